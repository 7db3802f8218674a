import { execFile, spawn, type ChildProcess } from 'node:child_process';

// Starts an example as its `start` script does and runs the curl commands it prints, as printed,
// with the real curl.

/** Splits a printed command line into words as a POSIX shell would, up to an unquoted `#` comment. */
export const shellWords = (line: string): string[] => {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const close = line.indexOf(c, i + 1);
      if (close === -1) throw new Error(`unbalanced quote in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, close);
      i = close;
    } else if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '#' && word === undefined) {
      break;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
};

export interface CurlResult {
  readonly status: number;
  readonly body: string;
}

/**
 * Runs /usr/bin/curl with the printed arguments. `-q` (ignore ~/.curlrc) goes first and `-sS -w`
 * adds the status after the body; proxy variables are dropped so that loopback is reached directly.
 */
export const runCurl = (args: readonly string[]): Promise<CurlResult> => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(https?|all|no)_proxy$/i.test(name)));
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/curl', ['-q', '-sS', '-w', '\n%{http_code}', ...args], { env, timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`curl ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        return;
      }
      const cut = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) });
    });
  });
};

/** A running example and the curl commands it printed. */
export class Printed {
  readonly lines: readonly string[];
  readonly commands: readonly string[];
  readonly #child: ChildProcess;
  readonly #ran = new Set<string>();

  constructor(child: ChildProcess, output: string) {
    this.#child = child;
    this.lines = output.split('\n');
    this.commands = this.lines.map((line) => line.trim()).filter((line) => line.startsWith('curl '));
  }

  /** Runs the one printed command that contains `fragment`. */
  run(fragment: string): Promise<CurlResult> {
    const found = this.commands.filter((command) => command.split('  #')[0]!.includes(fragment));
    if (found.length !== 1) throw new Error(`${found.length} printed commands contain ${fragment}:\n${this.lines.join('\n')}`);
    this.#ran.add(found[0]!);
    return runCurl(shellWords(found[0]!).slice(1));
  }

  /** The printed commands no test has run. */
  get notRun(): string[] {
    return this.commands.filter((command) => !this.#ran.has(command));
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Starts `node <args>` in `cwd` with PORT=0 (as `pnpm start` would, on a free port) and `extraEnv`,
 * and waits for the closing "Ctrl-C stops it." line, for up to `timeoutMs`: generous, because a
 * start that bundles and boots workerd takes tens of seconds on a busy 2-core machine.
 */
export const startPrinting = (cwd: string, args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 90_000): Promise<Printed> =>
  new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, PORT: '0' };
    delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not part of `pnpm start`
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no curl commands printed within ${timeoutMs / 1000} s:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('Ctrl-C stops it.')) {
        clearTimeout(timer);
        resolve(new Printed(child, stdout));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited early (code ${code}, signal ${signal}):\n${stdout}\n${stderr}`));
    });
  });
