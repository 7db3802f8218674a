// What the undici transport does beyond the suites it shares with NodeTransport (express, hono and
// the conformance suite run both): what undici sees of a request (framing, Host, the URI as
// planned), and what it relays that NodeTransport drops (103 Early Hints, trailers), or refuses.
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createGateway, get, post, service, type UpstreamConfig } from '@apigate/core';
import { closeServer, echo, eventually, listen, send, sendChunked, startUpstream, tcpHandles, type Echo, type Upstream, type UpstreamHandler } from '@apigate/test-utils/http';
import { nodeHandler } from './bridge.ts';
import { UndiciTransport } from './undici-transport.ts';

const opened: { close: () => Promise<void> }[] = [];
let baseline = tcpHandles();

afterEach(async () => {
  for (const resource of opened.splice(0).reverse()) await resource.close();
});

interface Started {
  readonly port: number;
  readonly transport: UndiciTransport;
  readonly outcomes: string[];
}

const start = async (handler: UpstreamHandler, upstream: UpstreamConfig = {}): Promise<Started & { upstream: Upstream }> => {
  baseline = tcpHandles();
  const origin = await startUpstream(handler);
  opened.push(origin);
  const outcomes: string[] = [];
  const gateway = createGateway({
    upstream,
    observer: { upstreamSucceeded: (event) => outcomes.push(String(event.status)), upstreamFailed: (event) => outcomes.push(event.error.code) },
  })
    .mount(service({ name: 'u', prefix: '/u' }, [get('/x'), get('/q', { to: '/q' }), post('/up'), get('/bad', { before: (ctx) => void ctx.headers.set('x-bad', 'line\nbreak') })]), [origin.origin])
    .build();
  const transport = new UndiciTransport(gateway.upstream);
  const handle = nodeHandler(gateway, transport);
  const server: Server = createServer((req, res) => handle(req, res, () => res.writeHead(404).end()));
  const port = await listen(server);
  opened.push({
    close: async () => {
      await closeServer(server);
      transport.close();
    },
  });
  return { port, transport, outcomes, upstream: origin };
};

/** Nothing leaked: no upstream connection in use, none but the pooled ones open, no TCP handle over. */
const expectNothingLeaked = async ({ transport }: Started): Promise<void> => {
  await eventually('no upstream connection in use', () => transport.connections.busy === 0);
  for (const resource of opened.splice(0).reverse()) await resource.close();
  await eventually('no TCP handle left over', () => tcpHandles() <= baseline);
};

describe('UndiciTransport: the request as undici sends it', () => {
  it('sends a streamed body of unknown length chunked, without the hop-by-hop headers undici refuses', async () => {
    const started = await start(echo);
    const reply = await sendChunked(started.port, '/u/up', ['first, ', 'second'], { 'content-type': 'text/plain', connection: 'keep-alive', 'keep-alive': 'timeout=5' });
    expect(reply.status).toBe(200);
    const seen = reply.json<Echo>();
    expect(seen.body).toBe('first, second');
    expect(seen.headers['transfer-encoding']).toBe('chunked');
    expect(seen.headers['content-length']).toBeUndefined();
    expect(seen.headers['keep-alive']).toBeUndefined();
    expect(started.outcomes).toEqual(['200']);
    await expectNothingLeaked(started);
  });

  it("sends the backend's host as Host, or the client's with preserveHost", async () => {
    const plain = await start(echo);
    const reply = await send(plain.port, '/u/x', { headers: { host: 'client.example' } });
    expect(reply.json<Echo>().headers.host).toBe(`127.0.0.1:${plain.upstream.port}`);
    await expectNothingLeaked(plain);
    const preserving = await start(echo, { preserveHost: true });
    const preserved = await send(preserving.port, '/u/x', { headers: { host: 'client.example' } });
    expect(preserved.json<Echo>().headers.host).toBe('client.example');
    await expectNothingLeaked(preserving);
  });

  it('sends the planned URI as it is, quotes and brackets in the query not re-encoded', async () => {
    const started = await start(echo);
    const reply = await send(started.port, `/u/q?a="b"&c=<d>`);
    expect(reply.json<Echo>().url).toBe(`/q?a="b"&c=<d>`);
    await expectNothingLeaked(started);
  });

  it("pools a HEAD's connection again, as Node's agent does, where undici alone would close it", async () => {
    const started = await start(echo);
    for (const method of ['HEAD', 'GET', 'HEAD', 'HEAD', 'GET']) {
      const reply = await send(started.port, '/u/x', { method });
      expect(reply.status).toBe(200);
      if (method === 'GET') expect(reply.json<Echo>().method).toBe('GET');
      else expect(reply.text).toBe('');
    }
    expect(started.upstream.seen.map((seen) => [seen.method, seen.headers.connection])).toEqual([
      ['HEAD', 'keep-alive'],
      ['GET', 'keep-alive'],
      ['HEAD', 'keep-alive'],
      ['HEAD', 'keep-alive'],
      ['GET', 'keep-alive'],
    ]);
    expect(started.upstream.connections()).toBe(1);
    expect(started.transport.connections).toEqual({ busy: 0, idle: 1 });
    await expectNothingLeaked(started);
  });

  it('answers 500 internal, with nothing sent, when a hook set a header value undici refuses', async () => {
    const started = await start(echo);
    const reply = await send(started.port, '/u/bad');
    expect(reply.status).toBe(500);
    expect(reply.text).toMatch(/^internal: /);
    expect(started.outcomes).toEqual(['internal']);
    expect(started.upstream.seen).toHaveLength(0);
    await expectNothingLeaked(started);
  });
});

describe('UndiciTransport: what it relays beyond the response', () => {
  it('relays 103 Early Hints to the client before the response', async () => {
    const started = await start((req, res) => {
      req.resume();
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }, () => res.end('after the hints'));
    });
    const seen = await new Promise<{ informational: { status: number; link: unknown }[]; status: number; body: string }>((resolve, reject) => {
      const informational: { status: number; link: unknown }[] = [];
      const req = request({ host: '127.0.0.1', port: started.port, path: '/u/x', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ informational, status: res.statusCode ?? 0, body }));
      });
      req.on('information', (info) => informational.push({ status: info.statusCode, link: info.headers.link }));
      req.on('error', reject);
      req.end();
    });
    expect(seen).toEqual({ informational: [{ status: 103, link: '</style.css>; rel=preload; as=style' }], status: 200, body: 'after the hints' });
    await expectNothingLeaked(started);
  });

  it("relays a chunked response's trailers, without hop-by-hop ones", async () => {
    const started = await start((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write('body');
      res.addTrailers({ 'x-checksum': 'abc123', 'keep-alive': 'timeout=5' });
      res.end();
    });
    const seen = await new Promise<{ body: string; trailers: IncomingHttpHeaders }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: started.port, path: '/u/x', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ body, trailers: res.trailers }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(seen).toEqual({ body: 'body', trailers: { 'x-checksum': 'abc123' } });
    await expectNothingLeaked(started);
  });

  it('answers 502 upstream_reset to an unsolicited 100 Continue, which undici refuses', async () => {
    const started = await start((req) => {
      req.resume();
      req.socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const reply = await send(started.port, '/u/x');
    expect(reply.status).toBe(502);
    expect(reply.text).toMatch(/^upstream_reset: /);
    expect(started.outcomes).toEqual(['upstream_reset']);
    await expectNothingLeaked(started);
  });
});
