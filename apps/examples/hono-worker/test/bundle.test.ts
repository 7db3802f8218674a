import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Miniflare } from 'miniflare';
import { bundleWorker, compatibilityDate } from '../src/bundle.ts';
import { closedOrigin, startEcho, type Echo } from '../src/echo.ts';

// The bundle `build` makes, run in workerd through Miniflare (not through dev.ts): no Node built-in
// in it, and the fetch transport's behaviour there — a streamed upload, an upstream that is down.

const dir = mkdtempSync(join(tmpdir(), 'hono-worker-'));
let echo: Awaited<ReturnType<typeof startEcho>>;
let bundle: string;
let code: string;
const workers: Miniflare[] = [];

/** Runs the bundle in workerd (as `script`: workerd refuses a scriptPath outside the working directory) with UPSTREAM bound to `upstream`; resolves to its URL. */
const runWorker = async (upstream: string): Promise<URL> => {
  const mf = new Miniflare({ modules: true, script: code, compatibilityDate: compatibilityDate(), bindings: { UPSTREAM: upstream }, host: '127.0.0.1', port: 0 });
  workers.push(mf);
  return mf.ready;
};

beforeAll(async () => {
  echo = await startEcho();
  bundle = await bundleWorker(join(dir, 'worker.js'));
  code = readFileSync(bundle, 'utf8');
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

  it('answers 502 upstream_unreachable when nothing listens at UPSTREAM', async () => {
    const url = await runWorker(await closedOrigin());
    const response = await fetch(new URL('/api/hello', url));
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('upstream_unreachable');
  });
});
