import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, get, service } from '@apigate/core';
import { expressGateway } from '@apigate/express';
import { closeServer, listen, send, startUpstream, type Upstream } from '@apigate/test-utils/http';
import express from 'express';
import { byHeader } from './keys.ts';
import { fixedWindow } from './limits.ts';
import { memoryStore } from './memory-store.ts';
import { rateLimit } from './rate-limit.ts';

let upstream: Upstream;
let port: number;
let close: () => Promise<void>;
let now = 0;

beforeAll(async () => {
  upstream = await startUpstream();
  const store = memoryStore({ now: () => now });
  // Gateway-wide: 10 per minute per client address; on the route: 3 per minute per user.
  const perClient = rateLimit({ name: 'client', limits: [fixedWindow({ limit: 10, window: '1m', name: 'client' })], store, headers: { allowed: true, style: ['ietf', 'legacy'] } });
  const perUser = rateLimit({ name: 'user', key: byHeader('x-user'), limits: [fixedWindow({ limit: 3, window: '1m', name: 'user' })], store, headers: { allowed: true, style: ['ietf', 'legacy'] } });
  const quiet = rateLimit({ name: 'quiet', key: byHeader('x-user'), limits: [fixedWindow({ limit: 1, window: '1m', name: 'quiet' })], store });
  const gateway = createGateway({ use: [perClient] })
    .mount(service({ name: 'api', prefix: '/api' }, [get('/user', { to: '/ping', use: [perUser] }), get('/quiet', { to: '/ping', use: [quiet] })]), [upstream.origin])
    .build();
  const app = express();
  const handler = expressGateway(gateway);
  app.use(handler);
  const server = createServer(app);
  port = await listen(server);
  close = async () => {
    await closeServer(server);
    handler.transport.close();
    await gateway.close();
  };
});

afterAll(async () => {
  await close();
  await upstream.close();
});

const headersOf = async (path: string, user: string) => {
  const reply = await send(port, path, { headers: { 'x-user': user } });
  const h = reply.headers;
  return { status: reply.status, policy: h['ratelimit-policy'], state: h.ratelimit, limit: h['ratelimit-limit'], remaining: h['ratelimit-remaining'], reset: h['ratelimit-reset'], retryAfter: h['retry-after'] };
};

describe('the RateLimit headers', () => {
  it('go on allowed responses by option, every limiter listed, the most restrictive in the single-valued ones', async () => {
    now = 30_000;
    expect(await headersOf('/api/user', 'ann')).toEqual({
      status: 200,
      policy: '"user";q=3;w=60, "client";q=10;w=60',
      state: '"user";r=2;t=30, "client";r=9;t=30',
      limit: '3',
      remaining: '2',
      reset: '30',
      retryAfter: undefined,
    });
    await headersOf('/api/user', 'ann');
    await headersOf('/api/user', 'ann');
    expect(await headersOf('/api/user', 'ann')).toEqual({
      status: 429,
      policy: '"user";q=3;w=60, "client";q=10;w=60',
      state: '"user";r=0;t=30, "client";r=6;t=30',
      limit: '3',
      remaining: '0',
      reset: '30',
      retryAfter: '30',
    });
  });

  it('go only on refused responses by default', async () => {
    now = 120_000;
    const allowed = await headersOf('/api/quiet', 'bob');
    // The gateway-wide limiter still reports itself; the route's quiet limiter does not.
    expect({ status: allowed.status, policy: allowed.policy }).toEqual({ status: 200, policy: '"client";q=10;w=60' });
    const refused = await headersOf('/api/quiet', 'bob');
    expect({ status: refused.status, policy: refused.policy, retryAfter: refused.retryAfter }).toEqual({ status: 429, policy: '"quiet";q=1;w=60, "client";q=10;w=60', retryAfter: '60' });
  });
});
