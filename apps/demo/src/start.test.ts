import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';

// `pnpm start` from the repository root, as a user runs it: the demo prints its PID, and one
// SIGTERM to that PID, or one Ctrl-C (SIGINT to the terminal's foreground process group), stops
// the whole tree with exit code 0 and no ELIFECYCLE from pnpm. The start scripts `exec` node so
// that no `sh -c` sits between pnpm and the demo: a shell killed by Ctrl-C is what pnpm reports as
// a failed command. Linux only (the tree is read from /proc), like CI.

const root = fileURLToPath(new URL('../../..', import.meta.url));

interface Started {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** pnpm and everything under it while the demo serves. */
  readonly tree: readonly number[];
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let running: ChildProcess | undefined;

afterEach(() => {
  // A failed assertion must not leave the demo serving: end our own process group.
  if (running?.pid !== undefined && running.exitCode === null && running.signalCode === null) process.kill(-running.pid, 'SIGKILL');
  running = undefined;
});

const parentOf = (pid: number): number | undefined => {
  try {
    // The command name sits in parentheses and may hold spaces; the fields after it are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined; // exited while we read
  }
};

const descendantsOf = (top: number): number[] => {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = parentOf(Number(entry));
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const tree = [top];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
};

const commandOf = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });

/** Spawns `pnpm start` in its own process group, as a terminal would, and waits for the ready line. */
const startDemo = (timeoutMs = 90_000): Promise<Started> =>
  new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'silent' };
    delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not part of `pnpm start`
    const child = spawn('pnpm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    running = child;
    let output = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    const timer = setTimeout(() => reject(new Error(`no ready line within ${timeoutMs / 1000} s:\n${output}`)), timeoutMs);
    const collect = (chunk: Buffer): void => {
      output += chunk.toString();
      const ready = /Ctrl-C stops it\. So does one SIGTERM: kill (\d+)/.exec(output);
      const listening = /apigate demo on http:\/\/127\.0\.0\.1:(\d+) \(pid (\d+);/.exec(output);
      if (ready && listening) {
        clearTimeout(timer);
        resolve({ child, pid: Number(ready[1]), port: Number(listening[1]), tree: descendantsOf(child.pid!), output: () => output, exited });
      }
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`pnpm start exited before it was ready (code ${code}, signal ${signal}):\n${output}`));
    });
  });

const expectCleanStop = async (demo: Started): Promise<void> => {
  const { code, signal } = await demo.exited;
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(demo.output()).not.toMatch(/ELIFECYCLE|ERR_PNPM|Command failed/);
  expect(demo.tree.filter(alive)).toEqual([]);
  expect(await refused(demo.port)).toBe(true);
};

describe('pnpm start', () => {
  it('runs the demo directly under pnpm, prints its PID, and one SIGTERM to it stops the whole tree with exit code 0', async () => {
    const demo = await startDemo();
    expect(demo.tree).toContain(demo.pid);
    expect(commandOf(demo.pid)).toMatch(/node .*apps\/demo\/src\/main\.ts$/);
    expect(demo.tree.map(commandOf).filter((command) => /^(?:\/\S*\/)?(?:sh|dash|bash)\b/.test(command))).toEqual([]);
    expect(demo.tree).toHaveLength(2); // pnpm, and the demo it exec'd
    process.kill(demo.pid, 'SIGTERM');
    await expectCleanStop(demo);
  }, 120_000);

  it('stops the whole tree with exit code 0 on one Ctrl-C (SIGINT to the process group)', async () => {
    const demo = await startDemo();
    process.kill(-demo.child.pid!, 'SIGINT');
    await expectCleanStop(demo);
  }, 120_000);
});
