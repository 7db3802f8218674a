import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, get, post, service } from '@apigate/core';
import { unauthorized } from '@apigate/errors';
import express from 'express';
import { expressFastLane } from '../src/index.ts';
import { closeServer, listen, send, startUpstream, type Echo, type Upstream } from './helpers.ts';

describe('expressFastLane', () => {
  let upstream: Upstream;
  let server: Server;
  let port: number;
  let lane: ReturnType<typeof expressFastLane>;
  const seenByExpress: string[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    const gateway = createGateway()
      .mount(
        service({ name: 'sales', prefix: '/sales' }, [
          get('/ping'),
          post('/orders'),
          get('/private', { before: (ctx) => (ctx.headers.get('x-key') === 'k' ? undefined : unauthorized()) }),
        ]),
        [upstream.origin],
      )
      .build();
    const app = express();
    app.use((req, _res, next) => {
      seenByExpress.push(req.url);
      next();
    });
    app.use(express.json());
    app.get('/own', (_req, res) => {
      res.send('own route');
    });
    lane = expressFastLane(app, gateway);
    server = createServer(lane);
    port = await listen(server);
  });

  afterAll(async () => {
    await closeServer(server);
    lane.transport.close();
    await upstream.close();
  });

  it('serves gateway routes before Express: its middleware never sees them', async () => {
    const reply = await send(port, '/sales/ping?x=1');
    expect(reply.status).toBe(200);
    expect(reply.json<Echo>().url).toBe('/ping?x=1');
    expect(seenByExpress).not.toContain('/sales/ping?x=1');
  });

  it('streams a POST body untouched, since no Express body parser runs for it', async () => {
    const body = '{"a":   1}';
    const reply = await send(port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(reply.json<Echo>().body).toBe(body);
  });

  it('still runs the gateway hooks', async () => {
    expect((await send(port, '/sales/private')).status).toBe(401);
    expect((await send(port, '/sales/private', { headers: { 'x-key': 'k' } })).status).toBe(200);
  });

  it('hands every other request to the Express app', async () => {
    const reply = await send(port, '/own');
    expect(reply.text).toBe('own route');
    expect(seenByExpress).toContain('/own');
    expect((await send(port, '/nope')).status).toBe(404);
  });
});
