import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { all, createGateway, service, type Gateway } from '@apigate/core';
import { fetchHandler } from '../fetch/handler.ts';
import { FetchTransport } from '../fetch/transport.ts';
import { nodeHandler } from '../node/bridge.ts';
import { interceptBody, rewriteCookies, rewriteLocation } from '../index.ts';

/** One answer, read to its end or its abort, whichever transport made it. */
interface Reply {
  readonly status: number;
  header(name: string): string | undefined;
  readonly cookies: readonly string[];
  readonly body: Buffer;
  readonly end: 'clean' | 'aborted';
}

const limit = 1024;
const big = (bytes: number): string => JSON.stringify({ pad: 'x'.repeat(bytes) });

/** The upstream: a few special paths under the backend's `/base`. */
const upstream = (origin: () => string, seen: string[]) => (req: IncomingMessage, res: ServerResponse): void => {
  const url = new URL(req.url ?? '/', 'http://upstream');
  const path = url.pathname.replace(/^\/base/, '');
  seen.push(`${path} ${req.headers['accept-encoding'] ?? '-'}`);
  const bytes = Number(url.searchParams.get('bytes') ?? 0);
  if (path === '/json') {
    const body = JSON.stringify({ id: 7 });
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    return void res.end(body);
  }
  if (path === '/text-chunked') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('hello, ');
    return void setTimeout(() => res.end('world'), 10);
  }
  if (path === '/binary') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 5 });
    return void res.end('bytes');
  }
  if (path === '/gzip') {
    const body = gzipSync(JSON.stringify({ compressed: true }));
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.byteLength });
    return void res.end(body);
  }
  if (path === '/big') {
    const body = big(bytes);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    return void res.end(body);
  }
  if (path === '/big-chunked') {
    // Within the limit at first, over it after the second chunk.
    const body = big(bytes);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(body.slice(0, 100));
    return void setTimeout(() => res.end(body.slice(100)), 10);
  }
  if (path === '/moved') {
    res.writeHead(302, {
      location: `${origin()}/base/landing?x=1`,
      'content-location': `${origin()}/base/doc`,
      refresh: `0; url=${origin()}/base/later`,
      'set-cookie': ['sid=1; Domain=.Internal.Example; Path=/; HttpOnly', 'pref=2; path=/base/prefs; domain=other.example', 'plain=3'],
      'content-length': 0,
    });
    return void res.end();
  }
  if (path === '/relative') {
    res.writeHead(303, { location: '/base/next', 'content-length': 0 });
    return void res.end();
  }
  if (path === '/elsewhere') {
    res.writeHead(302, { location: 'https://login.example/authorize?x=1', refresh: '5', 'content-length': 0 });
    return void res.end();
  }
  if (path === '/malformed') {
    res.writeHead(302, {
      location: 'http://[bad',
      'content-location': `${origin()}:99999/x`,
      refresh: 'soon; url=',
      'set-cookie': ['garbage; Domain=internal.example', '; Path=/', 'ok=1; Domain=internal.example; Path', 'odd=1; Domain; Path=/'],
      'content-length': 0,
    });
    return void res.end();
  }
  res.writeHead(404, { 'content-length': 0 });
  res.end();
};

const intercept = (body: string, response: { status: number; contentType: string }): string =>
  response.contentType.startsWith('application/json') ? JSON.stringify({ wrapped: JSON.parse(body) as unknown, status: response.status }) : body.toUpperCase();

const build = (origin: string, outcomes: string[], failures: string[]): Gateway =>
  createGateway({
    observer: {
      upstreamSucceeded: (event) => void outcomes.push(`${event.path} ${event.status}`),
      upstreamFailed: (event) => {
        const owner = (event.error.details as { middleware?: string } | undefined)?.middleware;
        outcomes.push(`${event.path} ${event.error.code}${owner === undefined ? '' : ` ${owner}`}`);
      },
      callbackFailed: (failure) => void failures.push(`${failure.callback}: ${(failure.error as Error).message}`),
    },
  })
    .mount(service({ name: 'i', prefix: '/i', use: [interceptBody({ intercept, limit })] }, [all('/{*rest}')]), [`${origin}/base`])
    .mount(service({ name: 'ip', prefix: '/ip', use: [interceptBody({ intercept, limit, overLimit: 'pass' })] }, [all('/{*rest}')]), [`${origin}/base`])
    .mount(service({ name: 'loc', prefix: '/loc', use: [rewriteLocation(), rewriteCookies({ domain: { 'internal.example': 'api.example.com' }, path: { '/': '/loc/' } })] }, [all('/{*rest}')]), [`${origin}/base`])
    .mount(service({ name: 'abs', prefix: '/abs', use: [rewriteLocation({ origin: 'https://api.example.com' }), rewriteCookies({ domain: '', path: { '*': '/abs/' } })] }, [all('/{*rest}')]), [`${origin}/base`])
    .build();

interface Harness {
  call(path: string, method?: string): Promise<Reply>;
  /** Upstream connections the gateway still holds busy (Node's pool; 0 on fetch). */
  busy(): number;
  close(): Promise<void>;
}

const servers: Server[] = [];
const listen = async (server: Server): Promise<number> => {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

const nodeHarness = async (gateway: Gateway): Promise<Harness> => {
  const handler = nodeHandler(gateway);
  const port = await listen(createServer((req, res) => handler(req, res, () => res.writeHead(404).end())));
  return {
    call: (path, method = 'GET') =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, method, agent: false });
        // A connection closed before any response head: no status.
        req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve({ status: 0, header: () => undefined, cookies: [], body: Buffer.alloc(0), end: 'aborted' }) : reject(error)));
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          const done = (end: Reply['end']): void => {
            const headers: IncomingHttpHeaders = res.headers;
            resolve({ status: res.statusCode ?? 0, header: (name) => headers[name] as string | undefined, cookies: headers['set-cookie'] ?? [], body: Buffer.concat(chunks), end });
          };
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('aborted', () => done('aborted'));
          res.on('error', () => done('aborted'));
          res.on('end', () => done(res.complete ? 'clean' : 'aborted'));
        });
        req.end();
      }),
    busy: () => handler.transport.connections.busy,
    close: async () => handler.transport.close(),
  };
};

const fetchHarness = async (gateway: Gateway): Promise<Harness> => {
  const handle = fetchHandler(gateway, new FetchTransport(gateway.upstream));
  return {
    call: async (path, method = 'GET') => {
      const response = (await handle(new Request(`http://gateway.test${path}`, { method, redirect: 'manual' })))!;
      const chunks: Buffer[] = [];
      let end: Reply['end'] = 'clean';
      try {
        if (response.body !== null) for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
      } catch {
        end = 'aborted';
      }
      return { status: response.status, header: (name) => response.headers.get(name) ?? undefined, cookies: response.headers.getSetCookie(), body: Buffer.concat(chunks), end };
    },
    busy: () => 0,
    close: async () => {},
  };
};

const until = async (label: string, check: () => boolean): Promise<void> => {
  for (let i = 0; i < 400 && !check(); i++) await sleep(25);
  if (!check()) throw new Error(`never became true: ${label}`);
};

describe.each([
  ['NodeTransport', nodeHarness],
  ['FetchTransport', fetchHarness],
])('%s', (_name, makeHarness) => {
  const outcomes: string[] = [];
  const failures: string[] = [];
  const seen: string[] = [];
  let harness: Harness;
  beforeAll(async () => {
    let origin = '';
    origin = `http://127.0.0.1:${await listen(createServer(upstream(() => origin, seen)))}`;
    harness = await makeHarness(build(origin, outcomes, failures));
  });
  afterAll(async () => {
    await harness.close();
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  describe('interceptBody', () => {
    it('hands a whole JSON body to the interceptor and sends what it returns, chunked, asking the upstream for an identity encoding', async () => {
      const reply = await harness.call('/i/json');
      expect({ status: reply.status, body: reply.body.toString(), end: reply.end, length: reply.header('content-length') }).toEqual({
        status: 200,
        body: JSON.stringify({ wrapped: { id: 7 }, status: 200 }),
        end: 'clean',
        length: undefined,
      });
      expect(seen).toContain('/json identity');
    });

    it('intercepts a chunked text body once all of it arrived', async () => {
      const reply = await harness.call('/i/text-chunked');
      expect({ status: reply.status, body: reply.body.toString(), end: reply.end }).toEqual({ status: 200, body: 'HELLO, WORLD', end: 'clean' });
    });

    it('streams other media types and encoded bodies untouched, Content-Length kept', async () => {
      const binary = await harness.call('/i/binary');
      expect({ body: binary.body.toString(), length: binary.header('content-length') }).toEqual({ body: 'bytes', length: '5' });
    });

    it(_name === 'NodeTransport' ? 'streams an encoded body untouched' : 'intercepts an encoded body as fetch decoded it', async () => {
      const gzip = await harness.call('/i/gzip');
      if (_name === 'NodeTransport') {
        expect({ encoding: gzip.header('content-encoding'), bytes: gzip.body[0] === 0x1f && gzip.body[1] === 0x8b, end: gzip.end }).toEqual({ encoding: 'gzip', bytes: true, end: 'clean' });
      } else {
        // fetch decodes every body and the transport drops Content-Encoding before the response phase.
        expect({ encoding: gzip.header('content-encoding'), body: gzip.body.toString(), end: gzip.end }).toEqual({ encoding: undefined, body: JSON.stringify({ wrapped: { compressed: true }, status: 200 }), end: 'clean' });
      }
    });

    it('leaves a HEAD response alone', async () => {
      const reply = await harness.call('/i/json', 'HEAD');
      expect({ status: reply.status, body: reply.body.length }).toEqual({ status: 200, body: 0 });
    });

    it('intercepts a body of exactly the limit', async () => {
      const body = big(limit - big(0).length);
      expect(Buffer.byteLength(body)).toBe(limit);
      const reply = await harness.call(`/i/big?bytes=${limit - big(0).length}`);
      expect({ end: reply.end, body: reply.body.toString() }).toEqual({ end: 'clean', body: JSON.stringify({ wrapped: JSON.parse(body) as unknown, status: 200 }) });
    });

    it.each([
      ['a declared Content-Length', '/i/big?bytes=5000'],
      ['a chunked body', '/i/big-chunked?bytes=5000'],
    ])('aborts the response over the limit (%s): no body the interceptor did not see, settled as internal, nothing left open', async (_case, path) => {
      const reply = await harness.call(path);
      // Node sends the head with the first body byte, and none came out of the interceptor: the
      // connection closes with no response at all. A fetch Response has its head already, and its body errors.
      expect({ status: reply.status, end: reply.end, body: reply.body.length }).toEqual({ status: _name === 'NodeTransport' ? 0 : 200, end: 'aborted', body: 0 });
      const upstreamPath = path.split('?')[0]!;
      await until('the request settled', () => outcomes.includes(`${upstreamPath} internal intercept-body`));
      expect(failures).toContain("intercept-body.response: the response body is over the interceptor's limit of 1024 bytes");
      await until('no upstream connection stays busy', () => harness.busy() === 0);
    });

    it.each([
      ['a declared Content-Length', '/ip/big?bytes=5000'],
      ['a chunked body', '/ip/big-chunked?bytes=5000'],
    ])("sends the upstream's body untouched over the limit with overLimit 'pass' (%s)", async (_case, path) => {
      const reply = await harness.call(path);
      expect({ status: reply.status, end: reply.end, body: reply.body.toString() }).toEqual({ status: 200, end: 'clean', body: big(5000) });
    });
  });

  describe('rewriteLocation and rewriteCookies', () => {
    it("maps Location, Content-Location and Refresh from the upstream's origin and base path to the public path, origin-relative", async () => {
      const reply = await harness.call('/loc/moved');
      expect({ status: reply.status, location: reply.header('location'), contentLocation: reply.header('content-location'), refresh: reply.header('refresh') }).toEqual({
        status: 302,
        location: '/loc/landing?x=1',
        contentLocation: '/loc/doc',
        refresh: '0; url=/loc/later',
      });
    });

    it('rewrites cookie Domain and Path by their mapping, leaving unmapped values and attribute-less cookies alone', async () => {
      const reply = await harness.call('/loc/moved');
      expect(reply.cookies).toEqual(['sid=1; Domain=api.example.com; Path=/loc/; HttpOnly', 'pref=2; path=/base/prefs; domain=other.example', 'plain=3']);
    });

    it('makes rewritten URLs absolute with the configured public origin; an empty domain makes cookies host-only', async () => {
      const reply = await harness.call('/abs/moved');
      expect({ location: reply.header('location'), refresh: reply.header('refresh'), cookies: reply.cookies }).toEqual({
        location: 'https://api.example.com/abs/landing?x=1',
        refresh: '0; url=https://api.example.com/abs/later',
        cookies: ['sid=1; Path=/abs/; HttpOnly', 'pref=2; Path=/abs/', 'plain=3'],
      });
    });

    it('maps an origin-relative Location under the base path too', async () => {
      expect((await harness.call('/loc/relative')).header('location')).toBe('/loc/next');
    });

    it("leaves another origin's URLs and a Refresh without a URL alone", async () => {
      const reply = await harness.call('/loc/elsewhere');
      expect({ status: reply.status, location: reply.header('location'), refresh: reply.header('refresh') }).toEqual({ status: 302, location: 'https://login.example/authorize?x=1', refresh: '5' });
    });

    it('passes malformed Location, Refresh and Set-Cookie values from the upstream on as they are, and the response with them', async () => {
      const before = failures.length;
      const reply = await harness.call('/loc/malformed');
      expect({ status: reply.status, end: reply.end, location: reply.header('location'), refresh: reply.header('refresh') }).toEqual({ status: 302, end: 'clean', location: 'http://[bad', refresh: 'soon; url=' });
      expect(reply.cookies).toEqual(['garbage; Domain=internal.example', '; Path=/', 'ok=1; Domain=api.example.com; Path', 'odd=1; Domain; Path=/loc/']);
      expect(failures.slice(before)).toEqual([]);
      await until('no upstream connection stays busy', () => harness.busy() === 0);
    });
  });
});
