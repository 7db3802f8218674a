import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasCommand } from './system.ts';

/** apps/bench/src */
export const srcDir = dirname(fileURLToPath(import.meta.url));

/** Core 0 runs the contestant, core 1 the load generator (and the origin). */
export const cores = { contestant: '0', load: '1' } as const;

export const pinning = hasCommand('taskset');

const children = new Set<ChildProcess>();

/** Starts a command pinned to a core (when taskset exists); tracked so that stopAll() ends it. */
export const startPinned = (core: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess => {
  const [file, argv] = pinning ? ['taskset', ['-c', core, command, ...args]] : [command, [...args]];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  Object.defineProperty(child, 'stderrTail', { get: () => stderr });
  return child;
};

/** The last lines a child wrote to stderr, for error messages. */
export const stderrOf = (child: ChildProcess): string => (child as ChildProcess & { stderrTail?: string }).stderrTail ?? '';

/** A Node process running one of our TypeScript entries with the workspace's source condition. */
export const startNode = (core: string, entry: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}, nodeFlags: readonly string[] = []): ChildProcess =>
  startPinned(core, process.execPath, ['--conditions=@apigate/source', ...nodeFlags, join(srcDir, entry), ...args], env);

/**
 * Resolves with the first stdout line parsed as JSON (with `skipOthers`, the first line that starts
 * with `{`: lines a runtime flag prints before it are passed over); rejects if the child exits or
 * times out first.
 */
export const firstJsonLine = <T>(child: ChildProcess, what: string, timeoutMs = 60_000, skipOthers = false): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => fail(new Error(`${what}: no answer within ${timeoutMs} ms\n${stderrOf(child)}`)), timeoutMs);
    const onExit = (code: number | null): void => fail(new Error(`${what} exited (${code}) before answering\n${stderrOf(child)}`));
    function fail(error: Error): void {
      clearTimeout(timer);
      lines.close();
      child.off('exit', onExit);
      reject(error);
    }
    child.once('exit', onExit);
    const onLine = (line: string): void => {
      if (skipOthers && !line.startsWith('{')) return;
      lines.off('line', onLine);
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.close();
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`${what}: unexpected output ${JSON.stringify(line)}\n${stderrOf(child)}`));
      }
    };
    lines.on('line', onLine);
  });

/** Runs a command to completion, collecting stdout. */
export const run = (child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr: stderrOf(child) }));
  });

/** Ends one child and waits for it (SIGTERM, then SIGKILL after `graceMs`). */
export const stop = (child: ChildProcess, graceMs = 1000): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });

/** Ends every child still running. */
export const stopAll = async (): Promise<void> => {
  await Promise.all([...children].map((child) => stop(child)));
};

/** Synchronous last resort on process exit: SIGKILL to every child still tracked. */
export const killAllNow = (): void => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
};

// ---- /proc ---------------------------------------------------------------------------------

/** utime + stime of a process, in clock ticks. */
export const cpuTicks = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return Number(fields[11]) + Number(fields[12]);
};

/**
 * Nanoseconds a process's main thread spent runnable but waiting for a CPU (the second field of
 * /proc/<pid>/schedstat): on a pinned core, time another thread had the core (the process's own
 * helper threads included: V8's GC threads share the pinned core).
 */
export const runQueueNs = (pid: number): number => {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
  } catch {
    return Number.NaN;
  }
};

/**
 * Nanoseconds of CPU the threads of a process other than its main thread have run (the first field
 * of each /proc/<pid>/task/<tid>/schedstat): in a Node process V8's compiler and GC helpers and
 * libuv's pool, which share a pinned core with the main thread and take it from it while they run.
 */
export const helperThreadsNs = (pid: number): number => {
  try {
    return readdirSync(`/proc/${pid}/task`)
      .filter((tid) => tid !== String(pid))
      .reduce((sum, tid) => {
        try {
          return sum + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        } catch {
          return sum; // the thread ended meanwhile
        }
      }, 0);
  } catch {
    return Number.NaN;
  }
};

/** A field of /proc/<pid>/status in KiB (VmRSS, VmHWM). */
export const statusKiB = (pid: number, field: 'VmRSS' | 'VmHWM'): number => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]);
};

/** Resets VmHWM to the current RSS (Linux: write 5 to clear_refs); false if not allowed. */
export const resetPeak = (pid: number): boolean => {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
};

/** Busy clock ticks of one CPU (everything but idle and iowait), from /proc/stat. */
export const coreBusyTicks = (core: string): number => coreTicks(core).busy;

/**
 * A core's busy ticks (user, nice, system, irq, softirq, steal) and, apart, its softirq ticks:
 * the kernel's network work, which on loopback mostly follows the traffic of whoever runs there.
 */
export const coreTicks = (core: string): { busy: number; softirq: number } => {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((text) => text.startsWith(`cpu${core} `));
  if (line === undefined) return { busy: 0, softirq: 0 };
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.slice(0, 8).reduce((sum, value) => sum + value, 0);
  return { busy: total - values[3]! - values[4]!, softirq: values[6]! };
};

const damonAdmin = '/sys/kernel/mm/damon/admin/kdamonds';

/**
 * Turns off, for the run, the DAMON monitors that are on (DAMON's sysfs admin interface, root
 * only), and returns their names and a function that turns them back on. Their kdamond thread
 * holds the core it runs on for 1–4 ms two to three times a second with the field of contestants
 * in memory (stall probe, tools/stalls.c: 47 wake-ups more than 0.5 ms late in 5 s on its core,
 * 14 over 2 ms; none with DAMON off). On the load core that is a stall the generator and the
 * origin meet for every contestant and for direct alike, but a p99 over 5 000 requests moves with
 * the 50th-latest: in a full run with it there, direct's p99 was 0.171 ms and every Node proxy's
 * 1.5–2.7 ms, the stalls' own size (read as direct's requests staying just under that count and
 * the proxies', longer in flight, going over it); with DAMON off, 0.48–1.48 ms (hono/proxy aside).
 * A monitor that cannot be turned off is left on; its thread is then moved off the contestant's
 * core (moveKernelThreads).
 */
export const pauseDamon = (): { paused: readonly string[]; restore: () => void } => {
  let monitors: string[] = [];
  try {
    monitors = readdirSync(damonAdmin).filter((name) => /^\d+$/.test(name));
  } catch {
    // no DAMON, or no sysfs
  }
  const off = monitors.filter((name) => {
    const state = join(damonAdmin, name, 'state');
    try {
      if (readFileSync(state, 'utf8').trim() !== 'on') return false;
      writeFileSync(state, 'off');
      return true;
    } catch {
      return false; // not root, or refused: left on
    }
  });
  let restored = false;
  return {
    paused: off.map((name) => `kdamonds/${name}`),
    restore: () => {
      if (restored) return;
      restored = true;
      for (const name of off) {
        try {
          writeFileSync(join(damonAdmin, name, 'state'), 'on');
        } catch {
          // nothing more to do than leave it as it is
        }
      }
    },
  };
};

/** A kernel thread and the CPU mask (`taskset -p`'s hex) it had before the run. */
export interface KernelThread {
  pid: number;
  comm: string;
  mask: string;
}

/**
 * Kernel threads moved off the contestant's core for the run. DAMON's kdamond (the VM sandboxes
 * this runs on hand cold page cache back to their host with it) wakes every ~0.5 s to sample the
 * machine's memory and then holds the core it runs on for 1–4 ms, 5–7 ms of every second with the
 * full field of contestants in memory; a waking thread does not get the core back before it yields
 * (run at SCHED_IDLE it kept the core as long). On the contestant's core that is a stall the
 * contestant alone meets, and the origin reached directly (on the load core) does not: a p99 at
 * 1 000 req/s is the 50th-worst of 5 000 requests, and these stalls alone made 20–59 late ones
 * every 5 s. On the load core the generator and the origin meet them alike for every contestant
 * and for direct. Returns what was moved and a function that puts each thread's mask back; moves
 * nothing without taskset or the right to (not root), and says so in `skipped`.
 */
export const moveKernelThreads = (core: string): { moved: KernelThread[]; skipped?: string; restore: () => void } => {
  const none = { moved: [], restore: (): void => {} };
  if (!pinning) return { ...none, skipped: 'taskset not found' };
  const threads: KernelThread[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      // Children of kthreadd (pid 2) are kernel threads.
      if (!/^kdamond/.test(comm) || stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] !== '2') continue;
      const mask = /mask: ([0-9a-f,]+)/.exec(spawnSync('taskset', ['-p', name], { encoding: 'utf8' }).stdout)?.[1];
      if (mask !== undefined) threads.push({ pid: Number(name), comm, mask });
    } catch {
      // gone meanwhile
    }
  }
  const moved = threads.filter((t) => spawnSync('taskset', ['-p', '-c', core, String(t.pid)], { stdio: 'ignore' }).status === 0);
  return {
    moved,
    ...(moved.length < threads.length ? { skipped: `could not move ${threads.filter((t) => !moved.includes(t)).map((t) => t.comm).join(', ')} (not root?)` } : {}),
    restore: () => {
      for (const t of moved) spawnSync('taskset', ['-p', t.mask, String(t.pid)], { stdio: 'ignore' });
    },
  };
};

/** Children of a process (nginx workers of a master). */
export const childPids = (pid: number): number[] => {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
};
