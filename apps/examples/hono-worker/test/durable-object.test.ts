import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Miniflare } from 'miniflare';
import { bundleWorker, compatibilityDate } from '../src/bundle.ts';
import { startEcho } from '../src/echo.ts';

// The worker in workerd through Miniflare, with its RateLimitObject Durable Object namespace bound:
// the limit of /limited/ping is counted in one object per X-Client.

let mf: Miniflare;
let base: string;
let echo: Awaited<ReturnType<typeof startEcho>>;

beforeAll(async () => {
  echo = await startEcho();
  // Under the example's folder (workerd reads modules below its working directory), apart from the
  // bundle the other test makes.
  const scriptPath = await bundleWorker(fileURLToPath(new URL('../dist/durable-object-test/worker.js', import.meta.url)));
  mf = new Miniflare({ modules: true, scriptPath, compatibilityDate: compatibilityDate(), bindings: { UPSTREAM: echo.url }, durableObjects: { RATE_LIMITER: 'RateLimitObject' }, host: '127.0.0.1', port: 0 });
  base = (await mf.ready).origin;
}, 120_000);

afterAll(async () => {
  await mf.dispose();
  await new Promise((resolve) => echo.server.close(resolve));
});

const ping = async (client: string): Promise<{ status: number; ratelimit: string | null; retryAfter: string | null; code: string | undefined }> => {
  const reply = await fetch(`${base}/limited/ping`, { headers: { 'x-client': client } });
  const body = (await reply.json()) as { error?: { code: string } };
  return { status: reply.status, ratelimit: reply.headers.get('ratelimit'), retryAfter: reply.headers.get('retry-after'), code: body.error?.code };
};

describe('the Durable Object rate-limit store, in workerd', () => {
  it('lets 3 requests an hour through per client and refuses the next with 429 rate_limited and Retry-After', async () => {
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await ping('alice'));
    expect(replies.map((r) => [r.status, r.ratelimit?.replace(/;t=\d+$/, '')])).toEqual([
      [200, '"hourly";r=2'],
      [200, '"hourly";r=1'],
      [200, '"hourly";r=0'],
      [429, '"hourly";r=0'],
    ]);
    expect(replies[3]!.code).toBe('rate_limited');
    expect(Number(replies[3]!.retryAfter)).toBeGreaterThanOrEqual(1);
    // Another client is another object, with its own count.
    expect((await ping('bob')).status).toBe(200);
  });

  it('is exact under concurrent requests: the object decides one at a time', async () => {
    const statuses = await Promise.all(Array.from({ length: 12 }, () => ping('carol').then((r) => r.status)));
    expect(statuses.filter((s) => s === 200).length).toBe(3);
    expect(statuses.filter((s) => s === 429).length).toBe(9);
  });

  it("counts in the subject's own object: what the object holds is what the worker's limiter sees", async () => {
    // Spend dave's hour straight in his object, as another isolate or location would.
    // Miniflare's own types of the namespace proxy are loose; the shape is that of the binding.
    const namespace = (await mf.getDurableObjectNamespace('RATE_LIMITER')) as unknown as { idFromName(name: string): unknown; get(id: unknown): { fetch(url: string, init: { method: string; body: string }): Promise<Response> } };
    const object = namespace.get(namespace.idFromName('global:header:x-client:dave'));
    const check = { subject: 'global:header:x-client:dave', id: ':hourly', limit: { algorithm: 'fixed-window', name: 'hourly', quota: 3, windowMs: 3_600_000 }, cost: 3 };
    const spent = await object.fetch('https://rate-limit.internal/consume', { method: 'POST', body: JSON.stringify([check]) });
    expect(((await spent.json()) as { allowed: boolean }[])[0]!.allowed).toBe(true);
    expect(await ping('dave')).toMatchObject({ status: 429, code: 'rate_limited' });
    expect((await ping('erin')).status).toBe(200);
  });
});
