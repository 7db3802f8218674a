import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NodeTransport } from '@apigate/proxy/node';
import express from 'express';
import { expressGateway } from '../src/index.ts';
import { closeServer, echo, eventually, listen, salesGateway, send, startGateway, startUpstream, type Upstream } from './helpers.ts';

describe('express adapter: gateway.close() closes the pools of the transport the adapter made', () => {
  let upstream: Upstream;

  beforeAll(async () => {
    upstream = await startUpstream(echo);
  });

  afterAll(async () => {
    await upstream.close();
  });

  it('destroys the idle keep-alive connections, once, however often close() is called', async () => {
    const gateway = salesGateway(upstream.origin);
    const app = await startGateway(gateway);
    expect((await send(app.port, '/sales/ping')).status).toBe(200);
    await eventually('the connection went back to the pool', () => app.pool().idle === 1);
    const closed = gateway.close();
    expect(gateway.close()).toBe(closed);
    await closed;
    // The pools destroyed them; each leaves the pool on its 'close'.
    await eventually('the pool emptied', () => app.pool().idle === 0);
    // The upstream saw its keep-alive connection end.
    await eventually('the upstream connection closed', async () => (await new Promise<number>((resolve) => upstream.server.getConnections((_e, n) => resolve(n)))) === 0);
    await app.close();
  });

  it("leaves a transport the app made and passed in open: it is the app's to close", async () => {
    const gateway = salesGateway(upstream.origin);
    const transport = new NodeTransport(gateway.upstream);
    const handler = expressGateway(gateway, { transport });
    expect(handler.transport).toBe(transport);
    const server = createServer(express().use(handler));
    const port = await listen(server);
    expect((await send(port, '/sales/ping')).status).toBe(200);
    await eventually('the connection went back to the pool', () => transport.connections.idle === 1);
    await gateway.close();
    expect(transport.connections.idle).toBe(1);
    transport.close();
    await closeServer(server);
  });
});
