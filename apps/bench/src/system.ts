import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';

/** Whether a command is on PATH. */
export const hasCommand = (name: string): boolean => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;

/** stdout + stderr of a command, or undefined if it cannot run. */
export const output = (command: string, args: readonly string[]): string | undefined => {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return result.error === undefined ? `${result.stdout}${result.stderr}`.trim() : undefined;
};

/** Clock ticks per second, for /proc/<pid>/stat times. */
export const clockTicks = (): number => Number(output('getconf', ['CLK_TCK']) ?? 100) || 100;

/** A loopback port that was free a moment ago. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
}

export const machine = (): Machine => {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return { cpu: model.trim(), cores: cpus().length, memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10, kernel: output('uname', ['-sr']) ?? 'unknown' };
};

/** Installs wrk and nginx with apt when allowed (root, apt-get present); true if it tried. */
export const installTools = (missing: readonly string[]): boolean => {
  if (process.getuid?.() !== 0 || !hasCommand('apt-get')) return false;
  console.error(`bench: installing ${missing.join(' ')} with apt-get…`);
  // A fresh machine's package lists are empty until updated.
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', ...missing], { stdio: 'inherit' });
  return true;
};
