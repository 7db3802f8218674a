import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, post, service, type RouteInput } from '@apigate/core';
import { closeServer, eventually, listen, send } from '@apigate/test-utils/http';
import { serveGateway, type Served } from './test-utils/serve.ts';

/** What the upstream received of one request: its raw body bytes and framing headers. */
interface Received {
  readonly bytes: Buffer;
  readonly contentLength: string | undefined;
  readonly transferEncoding: string | undefined;
}

/** Reads the body up to the route's limit and keeps it: the bytes go upstream as the gateway holds them. */
const readWhole: RouteInput = {
  async run(context) {
    await context.body?.read(context.bodyLimit);
  },
};

/** Every byte value, twice, then UTF-8 text with two- and four-byte characters. */
const mixed = Buffer.concat([Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256)), Buffer.from('é ü € 😀 ✓', 'utf8')]);

describe.each(['undici', 'node'] as const)('the %s transport: a body the gateway read goes upstream byte for byte', (transport) => {
  const received: Received[] = [];
  let upstream: Server;
  let served: Served;

  beforeAll(async () => {
    upstream = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ bytes: Buffer.concat(chunks), contentLength: req.headers['content-length'], transferEncoding: req.headers['transfer-encoding'] });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      });
    });
    const upstreamPort = await listen(upstream);
    const gateway = createGateway()
      .mount(service({ name: 'api', prefix: '/api' }, [{ ...post('/read'), input: readWhole }]), [`http://127.0.0.1:${upstreamPort}`])
      .build();
    served = await serveGateway(gateway, transport);
  });

  afterAll(async () => {
    await served.close();
    await closeServer(upstream);
  });

  it.each([
    ['a small body of every byte value and multi-byte UTF-8 (written with the head)', mixed],
    ['a body just over the size written with the head', Buffer.concat([Buffer.alloc(16 * 1024, 0xff), mixed])],
    ['a one-byte body', Buffer.from([0x80])],
  ])('forwards %s unchanged, with its Content-Length', async (_name, body) => {
    const before = received.length;
    const reply = await send(served.port, '/api/read', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': body.byteLength }, body });
    expect(reply.status).toBe(200);
    const seen = received[before]!;
    expect(seen.contentLength).toBe(String(body.byteLength));
    expect(seen.transferEncoding).toBeUndefined();
    expect(seen.bytes.equals(body)).toBe(true);
  });

  it('forwards a chunked body it read with its length, byte for byte', async () => {
    const before = received.length;
    const reply = await send(served.port, '/api/read', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }, body: mixed });
    expect(reply.status).toBe(200);
    const seen = received[before]!;
    expect(seen.contentLength).toBe(String(mixed.byteLength));
    expect(seen.transferEncoding).toBeUndefined();
    expect(seen.bytes.equals(mixed)).toBe(true);
  });

  it('leaves no upstream request busy once the answers are in', async () => {
    await eventually('the pooled upstream sockets are idle', () => served.handler.transport.connections.busy === 0);
  });
});
