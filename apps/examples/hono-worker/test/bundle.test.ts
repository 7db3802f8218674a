import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Miniflare } from 'miniflare';
import type { AuthEcho } from '../src/auth-worker.ts';
import { bundleAuthWorker, bundleWorker, compatibilityDate } from '../src/bundle.ts';
import { closedOrigin, startEcho, type Echo } from '../src/echo.ts';

// The bundle `build` makes, run in workerd through Miniflare (not through dev.ts): no Node built-in
// in it, and the fetch transport's behaviour there — a streamed upload, an upstream that is down.

const dir = mkdtempSync(join(tmpdir(), 'hono-worker-'));
let echo: Awaited<ReturnType<typeof startEcho>>;
let bundle: string;
let code: string;
let authCode: string;
const workers: Miniflare[] = [];

/**
 * Runs the bundle in workerd (as `script`: workerd refuses a scriptPath outside the working
 * directory) with UPSTREAM bound to `upstream` and, unless `auth` is false, AUTH_SERVICE to the
 * auth Worker beside it; resolves to its URL.
 */
const runWorker = async (upstream: string, { auth = true }: { auth?: boolean } = {}): Promise<URL> => {
  const gateway = { name: 'gateway', modules: true, script: code, compatibilityDate: compatibilityDate(), bindings: { UPSTREAM: upstream } };
  const mf = new Miniflare({
    workers: auth ? [{ ...gateway, serviceBindings: { AUTH_SERVICE: 'auth' } }, { name: 'auth', modules: true, script: authCode, compatibilityDate: compatibilityDate() }] : [gateway],
    host: '127.0.0.1',
    port: 0,
  });
  workers.push(mf);
  return mf.ready;
};

beforeAll(async () => {
  echo = await startEcho();
  bundle = await bundleWorker(join(dir, 'worker.js'));
  code = readFileSync(bundle, 'utf8');
  authCode = readFileSync(await bundleAuthWorker(join(dir, 'auth-worker.js')), 'utf8');
}, 30_000);

afterAll(async () => {
  await Promise.all(workers.map((mf) => mf.dispose()));
  await new Promise((resolve) => echo?.server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('the bundled worker in workerd', () => {
  it('bundles for a neutral platform without importing any Node built-in', () => {
    expect(code).not.toMatch(/from\s*["'](node:|http|https|net|stream|buffer|crypto|events)["']/);
    expect(code).not.toMatch(/\brequire\(/);
  });

  it('streams a 1 MiB upload to the upstream and relays its answer', async () => {
    const url = await runWorker(echo.url);
    const bytes = new Uint8Array(1024 * 1024).fill(97);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 64 * 1024) controller.enqueue(bytes.subarray(at, at + 64 * 1024));
        controller.close();
      },
    });
    const response = await fetch(new URL('/api/notes', url), { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(200);
    const received = (await response.json()) as Echo;
    expect([received.method, received.url, received.body.length]).toEqual(['POST', '/notes', bytes.length]);
  });

  it('serves concurrent first requests of a fresh isolate (the gateway is built during them), on both backends', async () => {
    const url = await runWorker(echo.url);
    const paths = ['/api/users/1', '/auth/session', '/api/users/2', '/auth/profiles/3', '/api/hello'];
    const replies = await Promise.all(paths.map(async (path) => (await fetch(new URL(path, url))).json() as Promise<Echo | AuthEcho>));
    const where = replies.map((reply) => ('worker' in reply ? `auth ${new URL(reply.url).pathname}` : `echo ${reply.url}`));
    expect(where).toEqual(['echo /v1/users/1', 'auth /session', 'echo /v1/users/2', 'auth /v1/profiles/3', 'echo /hello']);
  });

  it('answers 502 upstream_unreachable for a binding:// route when the Worker has no such binding, and serves its other routes', async () => {
    const url = await runWorker(echo.url, { auth: false });
    const response = await fetch(new URL('/auth/session', url));
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('upstream_unreachable');
    expect((await fetch(new URL('/api/hello', url))).status).toBe(200);
  });

  it('answers 502 upstream_unreachable when nothing listens at UPSTREAM', async () => {
    const url = await runWorker(closedOrigin());
    const response = await fetch(new URL('/api/hello', url));
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('upstream_unreachable');
  });
});
