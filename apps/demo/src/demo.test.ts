import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

// Runs the demo as `pnpm start` does (node --conditions=@apigate/source src/main.ts), on a free
// port, and runs every curl command it prints with the real curl, as printed.

const demoDir = fileURLToPath(new URL('..', import.meta.url));
const curlBinary = '/usr/bin/curl';

/** Splits a printed command line into words as a POSIX shell would, up to an unquoted `#` comment. */
const shellWords = (line: string): string[] => {
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

interface CurlResult {
  readonly status: number;
  readonly body: string;
}

/**
 * Runs curl with the printed arguments. `-q` (ignore ~/.curlrc) goes first and `-sS -w` adds the
 * status after the body; proxy variables are dropped so that loopback is reached directly.
 */
const runCurl = (args: readonly string[]): Promise<CurlResult> => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(https?|all|no)_proxy$/i.test(name)));
  return new Promise((resolve, reject) => {
    execFile(curlBinary, ['-q', '-sS', '-w', '\n%{http_code}', ...args], { env, timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`curl ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        return;
      }
      const cut = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) });
    });
  });
};

interface Echo {
  readonly upstream: string;
  readonly method: string;
  readonly url: string;
  readonly body?: unknown;
  readonly headers: Record<string, string>;
}

let demo: ChildProcess | undefined;
let lines: string[] = [];
/** The printed commands by the path (and query) of their URL, e.g. `/sales/public?page=2`. */
const commands = new Map<string, string[][]>();

/** The printed command for a path: the one with an argument containing `marker`, or the one with no options. */
const commandFor = (path: string, marker?: string): string[] => {
  const found = (commands.get(path) ?? []).find((args) =>
    marker === undefined ? !args.some((arg) => arg.startsWith('-')) : args.some((arg) => arg.includes(marker)),
  );
  if (!found) throw new Error(`the demo printed no curl command for ${path}${marker ? ` with ${marker}` : ''}:\n${lines.join('\n')}`);
  return found;
};

const startDemo = (): Promise<string[]> =>
  new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'silent' };
    delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not part of `pnpm start`
    const child = spawn(process.execPath, ['--conditions=@apigate/source', 'src/main.ts'], { cwd: demoDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    demo = child;
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`the demo printed no curl commands within 20 s:\n${stdout}\n${stderr}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('Ctrl-C stops it.')) {
        clearTimeout(timer);
        resolve(stdout.split('\n'));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited early (code ${code}, signal ${signal}):\n${stdout}\n${stderr}`));
    });
  });

beforeAll(async () => {
  lines = await startDemo();
  for (const line of lines) {
    if (!line.trimStart().startsWith('curl ')) continue;
    const args = shellWords(line.trim()).slice(1);
    const url = new URL(args.at(-1)!);
    const key = url.pathname + url.search;
    commands.set(key, [...(commands.get(key) ?? []), args]);
  }
}, 30_000);

afterAll(async () => {
  const child = demo;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
});

describe('the demo gateway, driven by the curl commands it prints', () => {
  it('prints one curl command per demonstrated behaviour, with a loopback URL', () => {
    const printed = [...commands.values()].flat();
    expect(printed).toHaveLength(11);
    for (const args of printed) expect(new URL(args.at(-1)!).hostname).toBe('127.0.0.1');
    expect(new Set(commands.keys())).toEqual(
      new Set(['/', '/sales/ping', '/sales/public?page=2', '/sales/item/42/review', '/sales/orders', '/sales/item/..%2Fadmin/review', '/sales/carts/42', '/sales/reports']),
    );
  });

  it("answers the app's own route from Express, not from an upstream", async () => {
    const { status, body } = await runCurl(commandFor('/'));
    expect(status).toBe(200);
    expect(JSON.parse(body)).toEqual({ app: 'an Express route of its own, beside the gateway' });
  });

  it('passes /sales/ping through as /ping and balances two calls over both upstreams', async () => {
    const first = await runCurl(commandFor('/sales/ping'));
    const second = await runCurl(commandFor('/sales/ping'));
    expect([first.status, second.status]).toEqual([200, 200]);
    const echoes = [JSON.parse(first.body) as Echo, JSON.parse(second.body) as Echo];
    expect(echoes.map((echo) => echo.url)).toEqual(['/ping', '/ping']);
    expect(new Set(echoes.map((echo) => echo.upstream))).toEqual(new Set(['sales-a', 'sales-b']));
  });

  it('sends cart 42 to the same upstream every time (path-sticky policy)', async () => {
    const upstreams = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const { status, body } = await runCurl(commandFor('/sales/carts/42'));
      expect(status).toBe(200);
      expect((JSON.parse(body) as Echo).url).toBe('/carts/42');
      upstreams.add((JSON.parse(body) as Echo).upstream);
    }
    expect(upstreams.size).toBe(1);
  });

  it('answers /sales/reports from one of the upstreams (least-time policy)', async () => {
    const { status, body } = await runCurl(commandFor('/sales/reports'));
    expect(status).toBe(200);
    expect(['sales-a', 'sales-b']).toContain((JSON.parse(body) as Echo).upstream);
  });

  it('rewrites /sales/public to /internal and keeps the query', async () => {
    const { status, body } = await runCurl(commandFor('/sales/public?page=2'));
    expect(status).toBe(200);
    expect((JSON.parse(body) as Echo).url).toBe('/internal?page=2');
  });

  it('rewrites /sales/item/42/review to /api/v2/reviews/42', async () => {
    const { status, body } = await runCurl(commandFor('/sales/item/42/review'));
    expect(status).toBe(200);
    expect((JSON.parse(body) as Echo).url).toBe('/api/v2/reviews/42');
  });

  it('refuses /sales/orders without the key with 401 from the hook, rendered as JSON', async () => {
    const { status, body } = await runCurl(commandFor('/sales/orders'));
    expect(status).toBe(401);
    expect(JSON.parse(body)).toEqual({ error: { code: 'unauthorized', message: 'Send the demo key in X-Api-Key.', status: 401 } });
  });

  it('forwards /sales/orders with the key, without the key and with the X-Client the hook set', async () => {
    const { status, body } = await runCurl(commandFor('/sales/orders', 'X-Api-Key'));
    expect(status).toBe(200);
    const echo = JSON.parse(body) as Echo;
    expect(echo.url).toBe('/orders');
    expect(echo.headers['x-client']).toBe('demo');
    expect(echo.headers['x-api-key']).toBeUndefined();
  });

  it('forwards a valid order as the map reshaped it, with a Content-Length that matches', async () => {
    const { status, body } = await runCurl(commandFor('/sales/orders', '"qty":2'));
    expect(status).toBe(200);
    const echo = JSON.parse(body) as Echo;
    expect([echo.method, echo.url]).toEqual(['POST', '/orders']);
    expect(echo.body).toEqual({ lines: [{ sku: 'A-1', quantity: 2 }] });
    expect(echo.headers['content-type']).toBe('application/json');
    expect(echo.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(echo.body))));
  });

  it('refuses an invalid order with 422 validation_failed listing the issues, without an upstream answer', async () => {
    const { status, body } = await runCurl(commandFor('/sales/orders', '"qty":0'));
    expect(status).toBe(422);
    const { error } = JSON.parse(body) as { error: { code: string; issues: { in: string; path: unknown[] }[] } };
    expect(error.code).toBe('validation_failed');
    expect(error.issues.map((issue) => [issue.in, issue.path])).toEqual([
      ['json', ['sku']],
      ['json', ['qty']],
    ]);
    expect(body).not.toContain('upstream');
  });

  it('refuses an encoded slash in a template parameter with 400 invalid_path', async () => {
    const { status, body } = await runCurl(commandFor('/sales/item/..%2Fadmin/review'));
    expect(status).toBe(400);
    expect((JSON.parse(body) as { error: { code: string } }).error.code).toBe('invalid_path');
  });
});
