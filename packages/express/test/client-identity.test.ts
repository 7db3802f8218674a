import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type Policy } from '@apigate/core';
import { echo, send, startGateway, startUpstream, type Echo, type GatewayApp, type Upstream } from './helpers.ts';

/**
 * The client's address is resolved once, through `upstream.trustedProxies`, and every consumer sees
 * the same value: the balancer, the middleware's request phase, the route's hooks and settle.
 */
describe('express adapter: the client address, once, for every consumer', () => {
  let upstream: Upstream;
  const seen: Record<string, (string | undefined)[]> = { balancer: [], middleware: [], hook: [] };
  const witness: Policy = {
    name: 'witness',
    create: (backends) => ({
      pick: (request) => {
        seen.balancer!.push(request.clientIp);
        return backends[0];
      },
    }),
  };
  const start = (trustedProxies: readonly string[]): Promise<GatewayApp> =>
    startGateway(
      createGateway({
        upstream: { trustedProxies },
        policies: { witness },
        defaultPolicy: 'witness',
        use: [{ name: 'client', request: (ctx) => void seen.middleware!.push(ctx.clientIp) }],
      })
        .mount(service({ name: 'who', prefix: '/who' }, [get('/{name}', { before: (ctx) => void seen.hook!.push(ctx.clientIp) })]), [upstream.origin])
        .build(),
    );
  let trusting: GatewayApp;
  let plain: GatewayApp;

  beforeAll(async () => {
    upstream = await startUpstream(echo);
    trusting = await start(['127.0.0.1', '10.0.0.0/8']);
    plain = await start([]);
  });

  afterAll(async () => {
    await Promise.all([trusting.close(), plain.close()]);
    await upstream.close();
  });

  const reset = (): void => {
    for (const list of Object.values(seen)) list.length = 0;
  };

  it('is the address a trusted peer forwarded for, past the trusted hops, while the upstream still gets the whole chain', async () => {
    reset();
    const reply = await send(trusting.port, '/who/me', { headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.9, 10.1.2.3' } });
    expect(reply.status).toBe(200);
    expect(seen).toEqual({ balancer: ['203.0.113.9'], middleware: ['203.0.113.9'], hook: ['203.0.113.9'] });
    expect(reply.json<Echo>().headers['x-forwarded-for']).toBe('198.51.100.7, 203.0.113.9, 10.1.2.3, 127.0.0.1');
  });

  it("is the peer when no proxy is trusted: a client's X-Forwarded-For cannot change it", async () => {
    reset();
    const reply = await send(plain.port, '/who/me', { headers: { 'x-forwarded-for': '198.51.100.7' } });
    expect(reply.status).toBe(200);
    expect(seen).toEqual({ balancer: ['127.0.0.1'], middleware: ['127.0.0.1'], hook: ['127.0.0.1'] });
    expect(reply.json<Echo>().headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('keeps the trusted peer when what it forwarded for is not an address', async () => {
    reset();
    const reply = await send(trusting.port, '/who/me', { headers: { 'x-forwarded-for': 'unknown' } });
    expect(reply.status).toBe(200);
    expect(seen.hook).toEqual(['127.0.0.1']);
  });
});
