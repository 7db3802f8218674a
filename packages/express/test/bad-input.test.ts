import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { connectionsOf, eventually, parseHead, rawRequest, salesGateway, send, startGateway, startUpstream, type GatewayApp, type Upstream } from './helpers.ts';

describe('express adapter: bad input', () => {
  let upstream: Upstream;
  let gateway: GatewayApp;
  let seenBefore = 0;

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startGateway(salesGateway(upstream.origin), { clientErrors: true });
  });

  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  beforeEach(() => {
    seenBefore = upstream.seen.length;
  });

  const expectUpstreamUntouched = (): void => {
    expect(upstream.seen.length).toBe(seenBefore);
  };

  it('refuses malformed percent-encoding in a parameter with 400 invalid_path', async () => {
    const reply = await send(gateway.port, '/sales/item/%E0%A4%A/review');
    expect(reply.status).toBe(400);
    expect(reply.text).toBe('invalid_path: The request path has malformed percent-encoding.\n');
    expectUpstreamUntouched();
  });

  it.each([
    ['a dot-dot segment', '/sales/item/../review'],
    ['an encoded dot-dot segment', '/sales/item/%2e%2e/review'],
    ['a mixed-case encoded dot-dot segment', '/sales/item/.%2E/review'],
    ['an encoded dot segment', '/sales/item/%2e/review'],
    ['an encoded slash', '/sales/item/a%2Fb/review'],
    ['a lower-case encoded slash', '/sales/item/a%2fb/review'],
    ['an encoded slash that would climb out', '/sales/item/..%2F..%2Fadmin/review'],
    ['an encoded backslash', '/sales/item/a%5Cb/review'],
    ['an encoded NUL', '/sales/item/a%00b/review'],
    ['an absolute URL', '/sales/item/http:%2F%2Fevil.test%2Fx/review'],
  ])('refuses %s in a parameter with 400 invalid_path and never calls the upstream', async (_what, path) => {
    const reply = await send(gateway.port, path);
    expect(reply.status).toBe(400);
    expect(reply.text).toBe('invalid_path: The request path is not allowed.\n');
    expectUpstreamUntouched();
  });

  it('refuses a bad parameter in a query-carrying request the same way', async () => {
    const reply = await send(gateway.port, '/sales/search/%2e%2e?page=1');
    expect(reply.status).toBe(400);
    expect(reply.text).toBe('invalid_path: The request path is not allowed.\n');
    expectUpstreamUntouched();
  });

  it('answers headers over maxHeaderSize with 431 header_too_large when renderClientErrors is attached', async () => {
    const raw = await rawRequest(gateway.port, `GET /sales/ping HTTP/1.1\r\nHost: gateway.test\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
    const { status, headers, body } = parseHead(raw);
    expect(status).toBe(431);
    expect(headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(headers.connection).toBe('close');
    expect(body).toBe('header_too_large: The request headers are too large.\n');
    expect(Number(headers['content-length'])).toBe(Buffer.byteLength(body));
    expectUpstreamUntouched();
  });

  it('answers an unknown method with 501 not_implemented when renderClientErrors is attached', async () => {
    const raw = await rawRequest(gateway.port, 'BREW /sales/ping HTTP/1.1\r\nHost: gateway.test\r\n\r\n');
    const { status, body } = parseHead(raw);
    expect(status).toBe(501);
    expect(body).toBe('not_implemented: The method is not supported.\n');
    expectUpstreamUntouched();
  });

  it('answers a malformed header line with 400 bad_request when renderClientErrors is attached', async () => {
    const raw = await rawRequest(gateway.port, 'GET /sales/ping HTTP/1.1\r\nHost: gateway.test\r\nNo Colon Here\r\n\r\n');
    const { status, body } = parseHead(raw);
    expect(status).toBe(400);
    expect(body).toBe('bad_request: The request is malformed.\n');
    expectUpstreamUntouched();
  });

  it('refuses a request with both Content-Length and Transfer-Encoding (smuggling) with 400 bad_request', async () => {
    const raw = await rawRequest(
      gateway.port,
      'POST /sales/orders HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /sales/ping HTTP/1.1\r\nHost: gateway.test\r\n\r\n',
    );
    const { status, body } = parseHead(raw);
    expect(status).toBe(400);
    expect(body).toBe('bad_request: The request is malformed.\n');
    expect(raw.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
    expectUpstreamUntouched();
  });

  it('answers a known method that no route of the path serves (PURGE) with 405 method_not_allowed', async () => {
    const reply = await send(gateway.port, '/sales/ping', { method: 'PURGE' });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(reply.text).toBe('method_not_allowed: The method is not allowed for this resource.\n');
    expectUpstreamUntouched();
  });

  it('closes the connection instead of draining a large body it refused unread', async () => {
    const raw = await rawRequest(gateway.port, 'PUT /sales/ping HTTP/1.1\r\nHost: gw\r\nContent-Length: 1048576\r\n\r\nonly the start');
    const reply = parseHead(raw);
    expect(reply.status).toBe(405);
    expect(reply.headers.connection).toBe('close');
    expectUpstreamUntouched();
  });

  it('keeps the connection for a small body it refused unread', async () => {
    const raw = await rawRequest(gateway.port, 'PUT /sales/ping HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    const reply = parseHead(raw);
    expect(reply.status).toBe(405);
    expect(reply.headers.connection).toBe('close');
    const kept = await rawRequest(gateway.port, 'PUT /sales/ping HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhelloGET /sales/ping HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n');
    expect(kept.match(/^HTTP\/1\.1 \d+/gm)).toEqual(['HTTP/1.1 405', 'HTTP/1.1 200']);
  });

  it('answers DELETE on a GET-only route with 405 method_not_allowed', async () => {
    const reply = await send(gateway.port, '/sales/item/1/review', { method: 'DELETE' });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET, HEAD, OPTIONS');
    expectUpstreamUntouched();
  });

  it('answers OPTIONS on a gateway path with 204 and the allowed methods', async () => {
    const reply = await send(gateway.port, '/sales/orders/9', { method: 'OPTIONS' });
    expect(reply.status).toBe(204);
    expect(reply.headers.allow).toBe('DELETE, OPTIONS');
    expectUpstreamUntouched();
  });

  it('sends an absolute-form request target to the configured backend, never to the host it names', async () => {
    const seenBefore = upstream.seen.length;
    const raw = await rawRequest(gateway.port, 'GET http://evil.test/sales/item/1/review HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n');
    expect(parseHead(raw).status).toBe(200);
    expect(upstream.seen.slice(seenBefore).map((seen) => seen.url)).toEqual(['/api/v2/reviews/1']);
    expect(upstream.seen.at(-1)?.headers.host).toBe(`127.0.0.1:${upstream.port}`);
  });

  it('keeps serving and holds no connection after the bad requests', async () => {
    expect((await send(gateway.port, '/sales/ping')).status).toBe(200);
    await eventually('the gateway holds no client connection', async () => (await connectionsOf(gateway.server)) === 0);
  });

  it('closes, without writing into it, a connection whose earlier response is in flight when a pipelined request is refused', async () => {
    let finish!: () => void;
    const slow = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 10 });
      res.write('AAAAA');
      finish = () => res.end('BBBBB');
    });
    const pipelined = await startGateway(salesGateway(slow.origin), { clientErrors: true });
    try {
      const raw = await new Promise<string>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port: pipelined.port });
        let received = '';
        let sentSecond = false;
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
          if (!sentSecond && received.includes('AAAAA')) {
            // The first response has started; now a second request that the parser refuses.
            sentSecond = true;
            socket.write(`GET /sales/ping HTTP/1.1\r\nHost: gateway.test\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
          }
        });
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(received));
        socket.write('GET /sales/ping HTTP/1.1\r\nHost: gateway.test\r\n\r\n');
      });
      finish();
      expect(raw.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200']);
      expect(raw).not.toContain('header_too_large');
      expect(parseHead(raw).body.startsWith('AAAAA')).toBe(true);
    } finally {
      await pipelined.close();
      await slow.close();
    }
  });
});
