import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createGateway, get, service } from '@apigate/core';
import { startUpstream, type Upstream } from '@apigate/test-utils/http';
import { fetchHandler } from './handler.ts';

/**
 * No upstream is reached in these cases: a DELETE on a GET route answers 405 with Allow, which
 * says which gateway path matched, and a refused parameter answers 400 before any forwarding.
 */
const gateway = createGateway()
  .mount(service({ name: 'sales', prefix: '/sales' }, [get('/ping'), get('/item/{id}/review', { to: '/reviews/{id}' })]), ['http://127.0.0.1:9'])
  .build();
const handle = fetchHandler(gateway);

/** Status and body of the gateway's answer, or 'not a gateway path'. */
const outcome = async (method: string, url: string, target?: string): Promise<string> => {
  const response = await handle(new Request(url, { method }), { target });
  return response === undefined ? 'not a gateway path' : `${response.status} ${await response.text()}`.trim();
};

describe('fetchHandler matches the raw request target', () => {
  it('without a raw target, matches the URL the runtime parsed (dot segments already resolved)', async () => {
    expect(new Request('http://gw.test/aux/%2e%2e/sales/ping').url).toBe('http://gw.test/sales/ping');
    expect(await outcome('DELETE', 'http://gw.test/aux/%2e%2e/sales/ping')).toMatch(/^405 /);
  });

  it('matches the raw target the URL was parsed from: a prefix escape is not a gateway path', async () => {
    for (const raw of ['/aux/%2e%2e/sales/ping', '/aux/%2E%2e/sales/ping', '/aux/../sales/ping', '/aux/.%2e/sales/ping', '/aux\\..\\sales\\ping']) {
      expect([raw, await outcome('DELETE', `http://gw.test${raw}`, raw)]).toEqual([raw, 'not a gateway path']);
    }
  });

  it('refuses dot segments in a parameter of the raw target with 400 invalid_path, for GET and HEAD', async () => {
    for (const param of ['%2e%2e', '%2E%2e', '..', '.', '%2e']) {
      const raw = `/sales/item/${param}/review`;
      expect(await outcome('GET', `http://gw.test${raw}`, raw)).toBe('400 invalid_path: The request path is not allowed.');
      expect(await outcome('HEAD', `http://gw.test${raw}`, raw)).toBe('400');
    }
  });

  it('matches the path of an absolute-form raw target', async () => {
    expect(await outcome('DELETE', 'http://evil.example/sales/ping', 'http://evil.example/sales/ping')).toMatch(/^405 /);
  });

  it('matches the URL when an app rewrote it from a raw target that URL parsing leaves as it is', async () => {
    expect(await outcome('DELETE', 'http://gw.test/sales/ping', '/mounted/sales/ping')).toMatch(/^405 /);
  });

  it('refuses a gateway path rewritten from a raw target that URL parsing may have moved', async () => {
    for (const raw of ['/mounted/aux/%2e%2e/sales/ping', '/mounted/sales/./ping', '/mounted\\sales/ping']) {
      expect([raw, await outcome('GET', 'http://gw.test/sales/ping', raw)]).toEqual([raw, '400 invalid_path: The request path is not allowed.']);
    }
    // What is not a gateway path is still left to the app.
    expect(await outcome('GET', 'http://gw.test/own', '/mounted/x/../own')).toBe('not a gateway path');
  });
});

describe("fetchHandler keeps a streamed exchange in the platform's waitUntil until it settles", () => {
  const upstreams: Upstream[] = [];
  afterEach(async () => {
    for (const upstream of upstreams.splice(0)) await upstream.close();
  });

  /** An upstream whose `/stream` sends a first part, then ends only when `go()` is called; `/small` answers 2 bytes of a declared length. */
  const held = async () => {
    let go!: () => void;
    const released = new Promise<void>((resolve) => (go = resolve));
    let closed!: (finished: boolean) => void;
    const upstreamClosed = new Promise<boolean>((resolve) => (closed = resolve));
    const upstream = await startUpstream((req, res) => {
      req.resume();
      if (req.url === '/small') {
        res.writeHead(200, { 'content-length': '2' });
        res.end('ok');
        return;
      }
      res.on('close', () => closed(res.writableFinished));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first\n');
      void released.then(() => res.end('last\n'));
    });
    upstreams.push(upstream);
    const outcomes: string[] = [];
    const gateway = createGateway({
      observer: { upstreamSucceeded: (event) => outcomes.push(String(event.status)), upstreamFailed: (event) => outcomes.push(event.error.code) },
    })
      .mount(service({ name: 'up', prefix: '/up' }, [get('/{path}')]), [upstream.origin])
      .build();
    const kept: Promise<unknown>[] = [];
    const handle = fetchHandler(gateway);
    const keep = (promise: Promise<unknown>): void => void kept.push(promise);
    const serve = (path: string, waitUntil = keep) => handle(new Request(`http://gateway.test/up/${path}`), { platform: { waitUntil } });
    return { go, upstreamClosed, outcomes, kept, serve };
  };

  /** Whether `promise` has resolved once the queued callbacks and I/O have run. */
  const isDone = async (promise: Promise<unknown>): Promise<boolean> => {
    let done = false;
    void promise.then(() => (done = true));
    await turn();
    return done;
  };

  it('resolves the promise when the body has ended, not before', async () => {
    const { go, outcomes, kept, serve } = await held();
    const response = (await serve('stream'))!;
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first\n');
    // The gateway's first-request promise (its middleware inits), then the exchange's.
    expect(kept).toHaveLength(2);
    expect([await isDone(kept[1]!), outcomes]).toEqual([false, []]);
    go();
    while (!(await reader.read()).done);
    await kept[1];
    expect(outcomes).toEqual(['200']);
  });

  it('resolves it when the client leaves mid-body, settled client_closed, the upstream request aborted', async () => {
    const { upstreamClosed, outcomes, kept, serve } = await held();
    const response = (await serve('stream'))!;
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel(new Error('the client left'));
    await kept[1];
    expect(outcomes).toEqual(['client_closed']);
    expect(await upstreamClosed).toBe(false);
  });

  it('hands it nothing for an exchange that settled before its response went out', async () => {
    const { kept, outcomes, serve } = await held();
    const response = (await serve('small'))!;
    expect(await response.text()).toBe('ok');
    expect([kept.length, outcomes]).toEqual([1, ['200']]);
  });

  it('serves the response, and settles it, when the runtime refuses the waitUntil', async () => {
    const { go, outcomes, serve } = await held();
    const refuse = (): void => {
      throw new Error('waitUntil() called after the response');
    };
    const response = (await serve('stream', refuse))!;
    go();
    expect(await response.text()).toBe('first\nlast\n');
    expect(outcomes).toEqual(['200']);
  });
});

describe('fetchHandler forwards the headers the gateway owns', () => {
  const upstreams: Upstream[] = [];
  afterEach(async () => {
    for (const upstream of upstreams.splice(0)) await upstream.close();
  });

  /** The headers the upstream got for one request through a route whose hook sets `set`. */
  const forwarded = async (set: Record<string, string>, requestHeaders: Record<string, string> = {}, { clientIp }: { clientIp: string | undefined } = { clientIp: '203.0.113.7' }) => {
    const upstream = await startUpstream();
    upstreams.push(upstream);
    const gateway = createGateway()
      .mount(
        service({ name: 'up', prefix: '/up' }, [
          get('/echo', {
            before: (ctx) => {
              for (const [name, value] of Object.entries(set)) ctx.headers.set(name, value);
            },
          }),
        ]),
        [upstream.origin],
      )
      .build();
    const response = (await fetchHandler(gateway)(new Request('http://gateway.test/up/echo', { headers: requestHeaders }), { clientIp }))!;
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    return upstream.seen.at(-1)!.headers;
  };

  it('drops a hop-by-hop header a hook set, whatever its case, and keeps the others it set', async () => {
    const headers = await forwarded({ 'Proxy-Authorization': 'Basic aG9vaw==', 'x-from-hook': 'kept' });
    expect([headers['proxy-authorization'], headers['x-from-hook']]).toEqual([undefined, 'kept']);
  });

  it("drops the client's hop-by-hop headers when no hook set one", async () => {
    const headers = await forwarded({ 'x-from-hook': 'kept' }, { 'proxy-authorization': 'Basic Y2xpZW50', te: 'trailers', 'x-from-client': 'kept' });
    expect([headers['proxy-authorization'], headers.te, headers['x-from-client'], headers['x-from-hook']]).toEqual([undefined, undefined, 'kept', 'kept']);
  });

  it("replaces an untrusted client's X-Forwarded-* and Forwarded with its own", async () => {
    const headers = await forwarded(
      {},
      { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-port': '8443', forwarded: 'for=198.51.100.1' },
    );
    expect({ for: headers['x-forwarded-for'], host: headers['x-forwarded-host'], proto: headers['x-forwarded-proto'], port: headers['x-forwarded-port'], forwarded: headers.forwarded }).toEqual({
      for: '203.0.113.7',
      host: 'gateway.test',
      proto: 'http',
      port: '80',
      forwarded: 'for=203.0.113.7;proto=http;host=gateway.test',
    });
  });

  it("passes on no untrusted client's X-Forwarded-For when the runtime tells no client address", async () => {
    const headers = await forwarded({}, { 'x-forwarded-for': '198.51.100.1' }, { clientIp: undefined });
    expect([headers['x-forwarded-for'], headers.forwarded]).toEqual([undefined, 'for=unknown;proto=http;host=gateway.test']);
  });
});
