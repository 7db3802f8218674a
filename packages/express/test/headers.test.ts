import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { echo, parseHead, rawRequest, salesGateway, send, startGateway, startUpstream, type Echo, type GatewayApp, type Upstream } from './helpers.ts';

const hopByHop = ['keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection'];

describe('express adapter: header hygiene', () => {
  let upstream: Upstream;
  let gateway: GatewayApp;
  let trusting: GatewayApp;
  let preserving: GatewayApp;

  beforeAll(async () => {
    upstream = await startUpstream((req, res, self) => {
      if (req.url === '/ping' && req.headers['x-want'] === 'hop-by-hop') {
        req.resume();
        res.writeHead(200, {
          'content-type': 'text/plain',
          connection: 'x-up-secret',
          'x-up-secret': 'leaked',
          'keep-alive': 'timeout=5',
          'proxy-authenticate': 'Basic',
          'x-up-public': 'kept',
          'content-length': 2,
          'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
        });
        res.end('ok');
        return;
      }
      echo(req, res, self);
    });
    gateway = await startGateway(salesGateway(upstream.origin));
    trusting = await startGateway(salesGateway(upstream.origin, { upstream: { trustedProxies: ['127.0.0.1'] } }));
    preserving = await startGateway(salesGateway(upstream.origin, { upstream: { preserveHost: true } }));
  });

  afterAll(async () => {
    await Promise.all([gateway.close(), trusting.close(), preserving.close()]);
    await upstream.close();
  });

  it('drops hop-by-hop request headers before the upstream', async () => {
    // A raw request, so that every hop-by-hop header really is on the wire.
    const raw = await rawRequest(
      gateway.port,
      [
        'GET /sales/ping HTTP/1.1',
        'Host: gateway.test',
        'Connection: keep-alive, close',
        'Keep-Alive: timeout=5',
        'TE: trailers',
        'Trailer: x-checksum',
        'Upgrade: h2c',
        'Proxy-Authorization: Basic c2VjcmV0',
        'Proxy-Connection: keep-alive',
        'X-Kept: yes',
        '',
        '',
      ].join('\r\n'),
    );
    const { status, body } = parseHead(raw);
    expect(status).toBe(200);
    const seen = JSON.parse(body) as Echo;
    for (const name of hopByHop) expect(seen.headers).not.toHaveProperty(name);
    // The gateway's pooled hop has its own Connection header; none of the client's tokens.
    expect(seen.headers.connection).toBe('keep-alive');
    expect(seen.headers['x-kept']).toBe('yes');
  });

  it("drops the headers the client's Connection header lists", async () => {
    const reply = await send(gateway.port, '/sales/ping', { headers: { connection: 'x-secret, keep-alive', 'x-secret': '1', 'x-public': '2' } });
    const seen = reply.json<Echo>();
    expect(seen.headers).not.toHaveProperty('x-secret');
    expect(seen.headers['x-public']).toBe('2');
  });

  it("drops hop-by-hop and Connection-listed headers of the upstream's response", async () => {
    const raw = await rawRequest(gateway.port, 'GET /sales/ping HTTP/1.1\r\nHost: gateway.test\r\nX-Want: hop-by-hop\r\nConnection: close\r\n\r\n');
    const { status, headers, body } = parseHead(raw);
    expect(status).toBe(200);
    expect(body).toBe('ok');
    expect(headers).not.toHaveProperty('x-up-secret');
    expect(headers).not.toHaveProperty('keep-alive');
    expect(headers).not.toHaveProperty('proxy-authenticate');
    expect(headers['x-up-public']).toBe('kept');
    expect(raw.match(/^set-cookie: .*$/gim)).toEqual(['set-cookie: a=1; Path=/', 'set-cookie: b=2; Path=/']);
    // The gateway's own connection management towards the client, not the upstream's.
    expect(headers.connection).toBe('close');
  });

  it('replaces an X-Forwarded-For spoofed by an untrusted client with the peer address', async () => {
    const reply = await send(gateway.port, '/sales/ping', { headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil.test', 'x-forwarded-proto': 'https', forwarded: 'for=6.6.6.6' } });
    const seen = reply.json<Echo>();
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe(`127.0.0.1:${gateway.port}`);
    expect(seen.headers.forwarded).toBe(`for=127.0.0.1;proto=http;host="127.0.0.1:${gateway.port}"`);
  });

  it('extends the X-Forwarded-For and Forwarded of a trusted proxy', async () => {
    const reply = await send(trusting.port, '/sales/ping', {
      headers: { host: 'public.test', 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.test', forwarded: 'for=1.2.3.4;proto=https' },
    });
    const seen = reply.json<Echo>();
    expect(seen.headers['x-forwarded-for']).toBe('1.2.3.4, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-host']).toBe('shop.test');
    expect(seen.headers.forwarded).toBe('for=1.2.3.4;proto=https, for=127.0.0.1;proto=http;host=public.test');
  });

  it('sets X-Forwarded-For, -Proto, -Host and Forwarded when the client sends none', async () => {
    const reply = await send(gateway.port, '/sales/item/1/review', { headers: { host: 'public.test' } });
    const seen = reply.json<Echo>();
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('public.test');
    expect(seen.headers.forwarded).toBe('for=127.0.0.1;proto=http;host=public.test');
  });

  it("sends the backend's host as Host by default", async () => {
    const reply = await send(gateway.port, '/sales/ping', { headers: { host: 'public.test' } });
    expect(reply.json<Echo>().headers.host).toBe(`127.0.0.1:${upstream.port}`);
  });

  it("sends the client's Host with preserveHost", async () => {
    const reply = await send(preserving.port, '/sales/ping', { headers: { host: 'public.test' } });
    expect(reply.json<Echo>().headers.host).toBe('public.test');
  });

  it('sends Host exactly once upstream', async () => {
    const reply = await send(gateway.port, '/sales/ping', { headers: { host: 'public.test' } });
    const names = reply.json<Echo>().rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
    expect(names.filter((name) => name === 'host')).toHaveLength(1);
  });
});
