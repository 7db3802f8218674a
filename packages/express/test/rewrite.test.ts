import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, parseHead, rawRequest, send, salesGateway, startGateway, startUpstream, type Echo, type GatewayApp, type Upstream } from './helpers.ts';

describe('express adapter: the rewrite table over real servers', () => {
  let upstream: Upstream;
  let gateway: GatewayApp;

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startGateway(salesGateway(upstream.origin));
  });

  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  const upstreamUrl = async (path: string): Promise<string> => {
    const reply = await send(gateway.port, path);
    expect(reply.status).toBe(200);
    return reply.json<Echo>().url;
  };

  it.each([
    ['strips the prefix of a passthrough route', '/sales/ping', '/ping'],
    ['keeps the query of a passthrough route', '/sales/ping?a=1&b=two', '/ping?a=1&b=two'],
    ['replaces the path of a static route', '/sales/public', '/internal'],
    ['keeps the query of a static route', '/sales/public?page=2', '/internal?page=2'],
    ['substitutes a template parameter', '/sales/item/42/review', '/api/v2/reviews/42'],
    ['keeps the query of a template route', '/sales/item/42/review?lang=fr&x=%20y', '/api/v2/reviews/42?lang=fr&x=%20y'],
    ['re-encodes a percent-encoded space in a parameter', '/sales/item/a%20b/review', '/api/v2/reviews/a%20b'],
    ['re-encodes a percent-encoded unicode parameter', '/sales/item/caf%C3%A9/review', '/api/v2/reviews/caf%C3%A9'],
    ['normalises lower-case percent-encoding of a parameter', '/sales/item/caf%c3%a9/review', '/api/v2/reviews/caf%C3%A9'],
    ['encodes reserved characters of a parameter within its segment', '/sales/item/a%3Fb%23c/review', '/api/v2/reviews/a%3Fb%23c'],
    ['sends the `to` query of a template route', '/sales/search/shoes', '/find/shoes?source=gateway'],
    ['merges the `to` query with the client query', '/sales/search/shoes?page=3', '/find/shoes?source=gateway&page=3'],
    ['merges the `to` query of a static route with the client query', '/sales/latest?limit=5', '/items?sort=desc&limit=5'],
    ['keeps quotes and angle brackets of a passthrough query byte for byte', `/sales/ping?q='x'&r="y"&s=<z>`, `/ping?q='x'&r="y"&s=<z>`],
    ['keeps malformed percent-encoding of a query as sent', '/sales/public?a=%zz&b=|^', '/internal?a=%zz&b=|^'],
    ['keeps quotes of a query on a template route', "/sales/item/a'b/review?q='x'", "/api/v2/reviews/a'b?q='x'"],
    ['ignores one trailing slash when matching a template route', '/sales/item/7/review/', '/api/v2/reviews/7'],
  ])('%s: %s reaches the upstream as %s', async (_behaviour, path, expected) => {
    expect(await upstreamUrl(path)).toBe(expected);
  });

  it('routes an absolute-form request target (GET http://host/path) by its path', async () => {
    const raw = await rawRequest(gateway.port, 'GET http://gateway.example/sales/item/42/review?x=1 HTTP/1.1\r\nHost: gateway.example\r\nConnection: close\r\n\r\n');
    const reply = parseHead(raw);
    expect(reply.status).toBe(200);
    expect((JSON.parse(reply.body) as Echo).url).toBe('/api/v2/reviews/42?x=1');
  });

  it('passes the method and the client headers of a rewritten request to the upstream', async () => {
    const reply = await send(gateway.port, '/sales/item/1/review', { headers: { 'x-request-id': 'abc', accept: 'application/json' } });
    const seen = reply.json<Echo>();
    expect(seen.method).toBe('GET');
    expect(seen.headers['x-request-id']).toBe('abc');
    expect(seen.headers.accept).toBe('application/json');
  });

  it("leaves req.url as the client sent it for the app's own middleware", async () => {
    const urls: string[] = [];
    const logging = await startGateway(salesGateway(upstream.origin), {
      before: [
        (req, res, next) => {
          res.on('finish', () => urls.push(req.url));
          next();
        },
      ],
    });
    try {
      const reply = await send(logging.port, '/sales/item/42/review?x=1');
      expect(reply.json<Echo>().url).toBe('/api/v2/reviews/42?x=1');
      await eventually('the response finished', () => urls.length === 1);
      expect(urls).toEqual(['/sales/item/42/review?x=1']);
    } finally {
      await logging.close();
    }
  });

  it("relays the upstream's status, headers and body to the client", async () => {
    const reply = await send(gateway.port, '/sales/ping');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(Number(reply.headers['content-length'])).toBe(reply.body.byteLength);
  });

  it("lets a request that matches no gateway route fall through to the app's own route untouched", async () => {
    const before = upstream.seen.length;
    const reply = await send(gateway.port, '/own?x=1');
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('own route');
    expect(upstream.seen.length).toBe(before);
  });

  it("lets an own route under the gateway's prefix answer when no gateway route matches it", async () => {
    const before = upstream.seen.length;
    const reply = await send(gateway.port, '/sales/own');
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('own route under the prefix');
    expect(upstream.seen.length).toBe(before);
  });

  it("lets an unknown path reach Express's own 404", async () => {
    const before = upstream.seen.length;
    const reply = await send(gateway.port, '/sales/nothing-here');
    expect(reply.status).toBe(404);
    expect(reply.headers['content-type']).toMatch(/^text\/html/);
    expect(reply.text).toContain('Cannot GET /sales/nothing-here');
    expect(upstream.seen.length).toBe(before);
  });

  it('answers a method the gateway path does not serve with 405 and an Allow header', async () => {
    const before = upstream.seen.length;
    const reply = await send(gateway.port, '/sales/ping', { method: 'POST', body: 'x' });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(reply.text).toBe('method_not_allowed: The method is not allowed for this resource.\n');
    expect(upstream.seen.length).toBe(before);
  });

  it('answers HEAD on a GET route with the headers and no body', async () => {
    const reply = await send(gateway.port, '/sales/item/9/review', { method: 'HEAD' });
    expect(reply.status).toBe(200);
    expect(reply.body.byteLength).toBe(0);
    const seen = upstream.seen.at(-1);
    expect(seen?.method).toBe('HEAD');
    expect(seen?.url).toBe('/api/v2/reviews/9');
  });

  it('forwards a DELETE on a template route with the method intact', async () => {
    const reply = await send(gateway.port, '/sales/orders/55', { method: 'DELETE' });
    expect(reply.status).toBe(200);
    const seen = reply.json<Echo>();
    expect(seen.method).toBe('DELETE');
    expect(seen.url).toBe('/orders/55');
  });
});
