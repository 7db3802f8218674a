import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, salesGateway, send, startGateway, startUpstream, transportNames, type Echo, type GatewayApp, type Upstream } from './helpers.ts';

describe.each(transportNames)('express adapter on the %s transport: upstream connection pooling', (transport) => {
  let upstream: Upstream;
  let gateway: GatewayApp;

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startGateway(salesGateway(upstream.origin), { transport });
  });

  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('serves 200 sequential requests over a handful of pooled upstream connections', async () => {
    for (let i = 0; i < 200; i++) {
      const path = i % 2 === 0 ? `/sales/ping?i=${i}` : `/sales/item/${i}/review`;
      const reply = await send(gateway.port, path);
      expect(reply.status).toBe(200);
      expect(reply.json<Echo>().url).toBe(i % 2 === 0 ? `/ping?i=${i}` : `/api/v2/reviews/${i}`);
    }
    expect(upstream.seen).toHaveLength(200);
    expect(upstream.connections()).toBeLessThanOrEqual(4);
    // Between requests every upstream socket is back in the pool, none stuck in use.
    await eventually('no busy upstream sockets', () => gateway.pool().busy === 0);
    expect(gateway.pool().idle).toBeGreaterThanOrEqual(1);
  });

  it('keeps a pooled connection across a POST with a body', async () => {
    const before = upstream.connections();
    for (let i = 0; i < 20; i++) {
      const reply = await send(gateway.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: `order ${i}` });
      expect(reply.json<Echo>().body).toBe(`order ${i}`);
    }
    expect(upstream.connections() - before).toBeLessThanOrEqual(1);
  });

  it('serves 50 concurrent requests, each to its own rewritten path, and returns every socket to the pool', async () => {
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => send(gateway.port, `/sales/item/${i}/review?n=${i}`)));
    replies.forEach((reply, i) => {
      expect(reply.status).toBe(200);
      expect(reply.json<Echo>().url).toBe(`/api/v2/reviews/${i}?n=${i}`);
    });
    await eventually('no busy upstream sockets', () => gateway.pool().busy === 0);
  });
});
