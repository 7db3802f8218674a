import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AuthEcho } from '../src/auth-worker.ts';
import { startEcho, type Echo } from '../src/echo.ts';

// Runs the example with `wrangler dev`, as its `dev` script does (both Workers, one wrangler
// process, workerd locally), on a free loopback port, offline: no metrics, no fetch of the
// `Request.cf` placeholder from Cloudflare, no login (local mode needs none), logs and local state
// in a temporary folder. UPSTREAM points at an echo server on loopback.

const dir = fileURLToPath(new URL('..', import.meta.url));
const wrangler = join(dir, 'node_modules', '.bin', 'wrangler');
const dev = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts: { dev: string } }).scripts.dev;
const state = mkdtempSync(join(tmpdir(), 'hono-worker-wrangler-'));
const startTimeoutMs = 150_000;

let echo: Awaited<ReturnType<typeof startEcho>>;
let child: ChildProcess;
let output = '';
let base: URL;

/** Everything wrangler needs to stay on this machine; wrangler dev reads no credentials in local mode. */
const offline: NodeJS.ProcessEnv = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_LOG_PATH: join(state, 'logs'),
};

beforeAll(async () => {
  echo = await startEcho();
  const args = [
    ...dev.split(' ').slice(1),
    '--port', '0',
    '--inspector-port', '0',
    '--show-interactive-dev-session=false',
    '--persist-to', join(state, 'state'),
    '--var', `UPSTREAM:${echo.url}`,
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, ...offline };
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not part of `pnpm dev`
  // Its own process group: workerd runs as wrangler's child, and the stop reaches both.
  child = spawn(wrangler, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  base = await new Promise<URL>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wrangler dev was not ready within ${startTimeoutMs / 1000} s:\n${output}`)), startTimeoutMs);
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      const ready = /Ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (ready !== null) {
        clearTimeout(timer);
        resolve(new URL(ready[1]!));
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`wrangler dev exited early (code ${code}, signal ${signal}):\n${output}`));
    });
  });
}, startTimeoutMs + 10_000);

afterAll(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
  }
  await new Promise((resolve) => echo?.server.close(resolve));
  rmSync(state, { recursive: true, force: true });
});

/** Whether something accepts TCP connections at the URL's port. */
const accepts = (url: URL): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

describe('the example under wrangler dev, offline', () => {
  it("serves the worker's own route", async () => {
    const response = await fetch(new URL('/', base));
    expect([response.status, await response.json()]).toEqual([200, { app: 'a Hono route of its own, beside the gateway' }]);
  });

  it('forwards a rewritten gateway route to the UPSTREAM given with --var', async () => {
    const response = await fetch(new URL('/api/users/42?x=1', base));
    const seen = (await response.json()) as Echo;
    expect([response.status, seen.url, seen.headers['x-forwarded-host']]).toEqual([200, '/v1/users/42?x=1', base.host]);
  });

  it("reaches the auth Worker of the second config through the service binding, with the route's cf options", async () => {
    const response = await fetch(new URL('/auth/profiles/7', base));
    const seen = (await response.json()) as AuthEcho;
    expect([response.status, seen.worker, new URL(seen.url).pathname, seen.cf]).toEqual([200, 'auth', '/v1/profiles/7', { cacheTtl: 60, cacheEverything: true }]);
  });

  it('renders a method the route does not declare as 405 method_not_allowed', async () => {
    const response = await fetch(new URL('/api/hello', base), { method: 'DELETE' });
    expect([response.status, ((await response.json()) as { error: { code: string } }).error.code, response.headers.get('allow')]).toEqual([405, 'method_not_allowed', 'GET, HEAD, OPTIONS']);
  });

  it('stops on SIGINT, as Ctrl-C stops it, and frees its port', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([exited, new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), 30_000)))]);
    clearTimeout(timer);
    expect(code).not.toBe('still running');
    expect(await accepts(base)).toBe(false);
  }, 40_000);
});
