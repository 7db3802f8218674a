/*
 * Upstream faults and client aborts that every adapter meets (unreachable, silent, reset or closed
 * before responding, death or silence mid-body, a client leaving before, during or mid-upload) are
 * conformance cases (apps/conformance, "upstream faults", "failures after the response started",
 * "client aborts"), run on all four adapters with their leak checks. What stays here runs on
 * Express only: a non-HTTP answer, an early answer to a client still uploading, a route's own
 * timeouts, the slow-client cases with the observer's settle reasons, the renderers, and a client
 * leaving while a hook or an Express middleware runs.
 */
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type GatewayOptions } from '@apigate/core';
import {
  connectionsOf,
  echo,
  eventually,
  flood,
  refusedOrigin,
  pausedDownload,
  pausedUpload,
  salesGateway,
  send,
  startGateway,
  startUpstream,
  streamUpload,
  tcpHandles,
  transportNames,
  untilStuck,
  type Flood,
  type GatewayApp,
  type Upstream,
  type UpstreamHandler,
} from './helpers.ts';

type Options = Omit<GatewayOptions<Record<string, never>>, 'state'>;
type Outcome = { status: number } | { error: string; reason?: unknown };

/** An observer that records how each forwarded request settled. */
const recording = (outcomes: Outcome[]): Options['observer'] => ({
  upstreamSucceeded: (event) => outcomes.push({ status: event.status }),
  upstreamFailed: (event) => outcomes.push({ error: event.error.code, reason: (event.error.details as { reason?: unknown } | undefined)?.reason }),
});

describe.each(transportNames)('express adapter on the %s transport: upstream faults', (transport) => {
  let baseline = 0;
  let opened: { close: () => Promise<void> }[] = [];

  beforeEach(() => {
    baseline = tcpHandles();
    opened = [];
  });

  afterEach(async () => {
    for (const resource of opened.reverse()) await resource.close();
  });

  const upstreamWith = async (handler: UpstreamHandler): Promise<Upstream> => {
    const upstream = await startUpstream(handler);
    opened.push(upstream);
    return upstream;
  };

  const gatewayTo = async (origin: string, options: Options = {}): Promise<GatewayApp> => {
    const gateway = await startGateway(salesGateway(origin, options), { transport });
    opened.push(gateway);
    return gateway;
  };

  /**
   * Nothing leaked: no upstream socket in use, the upstream holds only the pooled idle connections,
   * the gateway holds no client connection, and after closing everything the process has no more
   * TCP handles than before the test.
   */
  const expectNothingLeaked = async (gateway: GatewayApp, upstream?: Upstream): Promise<void> => {
    await eventually('no upstream socket left in use', () => gateway.pool().busy === 0);
    const idle = gateway.pool().idle;
    if (upstream) await eventually('the upstream holds only pooled connections', async () => (await connectionsOf(upstream.server)) === idle);
    await eventually('the gateway holds no client connection', async () => (await connectionsOf(gateway.server)) === 0);
    for (const resource of opened.reverse()) await resource.close();
    opened = [];
    await eventually('no TCP handle left over', () => tcpHandles() <= baseline);
  };

  /** The gateway still serves after the fault: nothing crashed. */
  const expectStillServing = async (gateway: GatewayApp): Promise<void> => {
    const reply = await send(gateway.port, '/own');
    expect(reply.status).toBe(200);
  };

  it('answers 502 bad_gateway when the upstream answers with something that is not HTTP', async () => {
    const upstream = await upstreamWith((req) => {
      req.socket.end('NOT HTTP AT ALL\r\n\r\n');
    });
    const gateway = await gatewayTo(upstream.origin);
    const reply = await send(gateway.port, '/sales/ping');
    expect(reply.status).toBe(502);
    expect(reply.text).toBe('bad_gateway: The upstream returned an invalid response.\n');
    await expectStillServing(gateway);
    await expectNothingLeaked(gateway, upstream);
  });

  it('makes a Node client see an aborted response when the upstream dies mid-body', async () => {
    const upstream = await upstreamWith((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1000 });
      res.write('x'.repeat(100), () => setImmediate(() => req.socket.destroy()));
    });
    const gateway = await gatewayTo(upstream.origin);
    const outcome = await new Promise<{ status: number; complete: boolean; error: string | undefined }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: gateway.port, path: '/sales/ping', agent: false }, (res) => {
        let error: string | undefined;
        res.on('data', () => undefined);
        res.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
        res.on('close', () => resolve({ status: res.statusCode ?? 0, complete: res.complete, error }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(outcome.status).toBe(200);
    expect(outcome.complete).toBe(false);
    expect(outcome.error).toBe('ECONNRESET');
    await expectStillServing(gateway);
    await expectNothingLeaked(gateway, upstream);
  });

  it("relays an upstream's early answer to a client still uploading, and lets the upload finish", async () => {
    const upstream = await upstreamWith((_req, res) => {
      // Answers at once without reading the body, as an auth check or a size limit would.
      res.writeHead(413, { 'content-type': 'text/plain', 'content-length': 8 });
      res.end('too big\n');
    });
    const gateway = await gatewayTo(upstream.origin);
    const reply = await streamUpload(gateway.port, '/sales/upload', 32 * 1024 * 1024);
    expect(reply.status).toBe(413);
    expect(reply.text).toBe('too big\n');
    await expectStillServing(gateway);
    await expectNothingLeaked(gateway, upstream);
  });

  it('answers 502 upstream_unreachable when the upstream refuses the connection', async () => {
    const outcomes: Outcome[] = [];
    const gateway = await gatewayTo(refusedOrigin, { observer: recording(outcomes) });
    const reply = await send(gateway.port, '/sales/ping');
    expect(reply.status).toBe(502);
    expect(reply.text).toMatch(/^upstream_unreachable: /);
    expect(outcomes).toMatchObject([{ error: 'upstream_unreachable' }]);
    await expectStillServing(gateway);
    await expectNothingLeaked(gateway);
  });

  it('answers 502 upstream_reset when the upstream drops a fresh connection before the head', async () => {
    const outcomes: Outcome[] = [];
    const upstream = await upstreamWith((req) => req.socket.destroy());
    const gateway = await gatewayTo(upstream.origin, { observer: recording(outcomes) });
    const reply = await send(gateway.port, '/sales/ping');
    expect(reply.status).toBe(502);
    expect(reply.text).toMatch(/^upstream_reset: /);
    // A connection that never answered was not a stale pooled one: not sent again.
    expect(upstream.connections()).toBe(1);
    expect(outcomes).toMatchObject([{ error: 'upstream_reset' }]);
    await expectNothingLeaked(gateway, upstream);
  });

  it('answers 502 upstream_reset to a client still uploading when the upstream fails mid-upload', async () => {
    const outcomes: Outcome[] = [];
    const upstream = await upstreamWith((req) => req.once('data', () => req.socket.destroy()));
    const gateway = await gatewayTo(upstream.origin, { observer: recording(outcomes) });
    // The client sends part of its body, then waits: the answer comes while the upload is unfinished.
    const upload = pausedUpload(gateway.port, '/sales/upload', 64 * 1024, 1024 * 1024);
    const reply = await upload.reply;
    expect(reply).toMatchObject({ status: 502 });
    expect((reply as { text: string }).text).toMatch(/^upstream_reset: /);
    expect(outcomes).toMatchObject([{ error: 'upstream_reset' }]);
    upload.finish();
    await expectStillServing(gateway);
    await expectNothingLeaked(gateway, upstream);
  });

  it('settles client_closed and aborts the upstream request when the client hangs up mid-download', async () => {
    let flooding!: Flood;
    const upstream = await upstreamWith((req, res) => {
      req.resume();
      flooding = flood(res, 32 * 1024 * 1024);
    });
    const outcomes: Outcome[] = [];
    const gateway = await gatewayTo(upstream.origin, { observer: recording(outcomes) });
    const status = await new Promise<number>((resolve, reject) => {
      const client = request({ host: '127.0.0.1', port: gateway.port, path: '/sales/ping', agent: false }, (res) => {
        res.once('data', () => {
          resolve(res.statusCode ?? 0);
          client.destroy();
        });
      });
      client.on('error', () => undefined);
      client.on('close', () => reject(new Error('closed before the body')));
      client.end();
    });
    expect(status).toBe(200);
    // The upstream's response was cut, not written out to a client that is gone.
    expect(await flooding.finished).toBe(false);
    await eventually('settled', () => outcomes.length === 1);
    expect(outcomes).toMatchObject([{ error: 'client_closed' }]);
    await expectStillServing(gateway);
    await expectNothingLeaked(gateway, upstream);
  });

  it('settles client_closed and aborts the upstream request when the client hangs up mid-upload', async () => {
    let received = 0;
    let upstreamClosed!: (complete: boolean) => void;
    const closed = new Promise<boolean>((resolve) => (upstreamClosed = resolve));
    const upstream = await upstreamWith((req) => {
      req.on('data', (chunk: Buffer) => (received += chunk.byteLength));
      req.on('close', () => upstreamClosed(req.complete));
    });
    const outcomes: Outcome[] = [];
    const gateway = await gatewayTo(upstream.origin, { observer: recording(outcomes) });
    const client = request({ host: '127.0.0.1', port: gateway.port, method: 'POST', path: '/sales/upload', agent: false, headers: { 'content-length': 1024 * 1024 } });
    client.on('error', () => undefined);
    client.write(Buffer.alloc(64 * 1024));
    await eventually('the upstream has the first part', () => received === 64 * 1024);
    client.destroy();
    expect(await closed).toBe(false);
    await eventually('settled', () => outcomes.length === 1);
    expect(outcomes).toMatchObject([{ error: 'client_closed' }]);
    await expectStillServing(gateway);
    await expectNothingLeaked(gateway, upstream);
  });

  describe("a route's own upstream timeouts", () => {
    const routes = (origin: string, options: Options) =>
      createGateway(options)
        .mount(service({ name: 'poll', prefix: '/poll' }, [get('/long', { upstream: { requestTimeout: 10_000 } }), get('/short', { upstream: { requestTimeout: 200 } })]), [origin])
        .build();

    it('waits past the gateway requestTimeout on a route that allows longer', async () => {
      let answer!: () => void;
      const answered = new Promise<void>((resolve) => (answer = resolve));
      let arrived!: () => void;
      const arrival = new Promise<void>((resolve) => (arrived = resolve));
      const upstream = await upstreamWith((req, res) => {
        req.resume();
        arrived();
        void answered.then(() => res.end('late news'));
      });
      const gateway = await startGateway(routes(upstream.origin, { upstream: { requestTimeout: 200 } }), { transport });
      opened.push(gateway);
      const reply = send(gateway.port, '/poll/long');
      await arrival;
      // Silent for several times the gateway's requestTimeout, well within the route's.
      await sleep(1_000);
      answer();
      expect(await reply).toMatchObject({ status: 200, text: 'late news' });
      await expectNothingLeaked(gateway, upstream);
    });

    it('answers 504 upstream_timeout on a route whose requestTimeout is shorter than the gateway\'s', async () => {
      const upstream = await upstreamWith((req) => req.resume());
      const outcomes: Outcome[] = [];
      const gateway = await startGateway(routes(upstream.origin, { observer: recording(outcomes) }), { transport });
      opened.push(gateway);
      const reply = await send(gateway.port, '/poll/short');
      expect(reply.status).toBe(504);
      expect(outcomes).toMatchObject([{ error: 'upstream_timeout' }]);
      await expectNothingLeaked(gateway, upstream);
    });
  });

  describe('timeouts measure the side they name', () => {
    // Long enough for a response head on a busy machine (as in apps/conformance); the pauses below are several times it.
    const requestTimeout = 1_000;
    // Several times what the buffers up to a client that does not read hold (about 8 MiB on loopback).
    const big = 32 * 1024 * 1024;

    it('delivers a whole response to a client that stops reading for longer than requestTimeout, and settles it ok', async () => {
      let flooding!: Flood;
      const upstream = await upstreamWith((req, res) => {
        req.resume();
        flooding = flood(res, big);
      });
      const outcomes: Outcome[] = [];
      const gateway = await gatewayTo(upstream.origin, { upstream: { requestTimeout }, observer: recording(outcomes) });
      const download = pausedDownload(gateway.port, '/sales/ping');
      expect(await download.status).toBe(200);
      // The client reads nothing: once the upstream is stuck the gateway is the one waiting, on the client.
      await untilStuck(flooding, requestTimeout);
      await sleep(3 * requestTimeout);
      expect(await download.resume()).toEqual({ bytes: big, complete: true });
      expect(await flooding.finished).toBe(true);
      await eventually('settled', () => outcomes.length === 1);
      expect(outcomes).toEqual([{ status: 200 }]);
      await expectNothingLeaked(gateway, upstream);
    });

    it('forwards a whole upload whose client pauses for longer than requestTimeout mid-body', async () => {
      let received = 0;
      const upstream = await upstreamWith((req, res) => {
        req.on('data', (chunk: Buffer) => (received += chunk.byteLength));
        req.on('end', () => res.end(JSON.stringify({ bytes: received })));
      });
      const outcomes: Outcome[] = [];
      const gateway = await gatewayTo(upstream.origin, { upstream: { requestTimeout }, observer: recording(outcomes) });
      const upload = pausedUpload(gateway.port, '/sales/upload', 64 * 1024, 1024 * 1024);
      await eventually('the upstream has the first part', () => received === 64 * 1024);
      // Nothing moves now but the clock: the gateway waits on the client, not on the upstream.
      await sleep(3 * requestTimeout);
      upload.finish();
      const reply = await upload.reply;
      expect(reply).toMatchObject({ status: 200 });
      expect((reply as { json: () => unknown }).json()).toEqual({ bytes: 64 * 1024 + 1024 * 1024 });
      expect(outcomes).toEqual([{ status: 200 }]);
      await expectNothingLeaked(gateway, upstream);
    });

    it('settles 504 upstream_timeout for an upstream that is silent after the whole upload is in', async () => {
      const upstream = await upstreamWith((req) => req.resume());
      const outcomes: Outcome[] = [];
      const gateway = await gatewayTo(upstream.origin, { upstream: { requestTimeout: 200 }, observer: recording(outcomes) });
      const reply = await send(gateway.port, '/sales/upload', { method: 'POST', body: Buffer.alloc(256 * 1024) });
      expect(reply.status).toBe(504);
      expect(reply.text).toBe('upstream_timeout: The upstream did not respond in time.\n');
      expect(outcomes).toMatchObject([{ error: 'upstream_timeout' }]);
      await expectNothingLeaked(gateway, upstream);
    });

    it('cuts a client that stops reading for good at clientTimeout, settles client_closed and frees the upstream connection', async () => {
      let flooding!: Flood;
      const upstream = await upstreamWith((req, res) => {
        req.resume();
        flooding = flood(res, big);
      });
      const outcomes: Outcome[] = [];
      const gateway = await gatewayTo(upstream.origin, { upstream: { requestTimeout: 1_000, clientTimeout: 600 }, observer: recording(outcomes) });
      const download = pausedDownload(gateway.port, '/sales/ping');
      expect(await download.status).toBe(200);
      // The client reads nothing more: the gateway gives up on it, not on the healthy upstream.
      await eventually('settled', () => outcomes.length === 1);
      expect(outcomes).toEqual([{ error: 'client_closed', reason: 'the client was silent for longer than clientTimeout' }]);
      expect(await flooding.finished).toBe(false);
      await eventually('the gateway dropped the client connection', async () => (await connectionsOf(gateway.server)) === 0);
      // A client that reads again finds its response cut short.
      const ended = await download.resume();
      expect(ended.complete).toBe(false);
      expect(ended.bytes).toBeLessThan(big);
      await expectStillServing(gateway);
      await expectNothingLeaked(gateway, upstream);
    });

    it('answers 408 request_timeout to a client that stops mid-upload for good, settles client_closed and aborts the upstream request', async () => {
      let received = 0;
      let upstreamClosed!: (complete: boolean) => void;
      const closed = new Promise<boolean>((resolve) => (upstreamClosed = resolve));
      const upstream = await upstreamWith((req) => {
        req.on('data', (chunk: Buffer) => (received += chunk.byteLength));
        req.on('close', () => upstreamClosed(req.complete));
      });
      const outcomes: Outcome[] = [];
      const gateway = await gatewayTo(upstream.origin, { upstream: { requestTimeout: 1_000, clientTimeout: 600 }, observer: recording(outcomes) });
      const upload = pausedUpload(gateway.port, '/sales/upload', 64 * 1024, 1024 * 1024);
      await eventually('the upstream has the first part', () => received === 64 * 1024);
      const reply = await upload.reply;
      expect(reply).toMatchObject({ status: 408, headers: { connection: 'close' } });
      expect((reply as { text: string }).text).toBe('request_timeout: The request body was not received in time.\n');
      expect(await closed).toBe(false);
      expect(outcomes).toEqual([{ error: 'client_closed', reason: 'the client was silent for longer than clientTimeout' }]);
      await expectNothingLeaked(gateway, upstream);
    });
  });
});

describe('express adapter: errors through the json and problem renderers', () => {
  let closers: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers = [];
  });

  const refusedGateway = async (renderer: 'json' | 'problem'): Promise<GatewayApp> => {
    const gateway = await startGateway(salesGateway(refusedOrigin, { renderer }));
    closers.push(gateway.close);
    return gateway;
  };

  it('renders a refused upstream as application/json with the code', async () => {
    const gateway = await refusedGateway('json');
    const reply = await send(gateway.port, '/sales/ping');
    expect(reply.status).toBe(502);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expect(Number(reply.headers['content-length'])).toBe(reply.body.byteLength);
    expect(reply.json()).toEqual({ error: { code: 'upstream_unreachable', message: 'The upstream could not be reached.', status: 502 } });
  });

  it('renders a refused upstream as application/problem+json with the code', async () => {
    const gateway = await refusedGateway('problem');
    const reply = await send(gateway.port, '/sales/item/5/review?x=1');
    expect(reply.status).toBe(502);
    expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(reply.json()).toEqual({
      type: 'urn:apigate:error:upstream_unreachable',
      title: 'Bad Gateway',
      status: 502,
      detail: 'The upstream could not be reached.',
      instance: '/sales/item/5/review',
      code: 'upstream_unreachable',
    });
  });

  it('renders a 405 as application/json and keeps the Allow header', async () => {
    const gateway = await refusedGateway('json');
    const reply = await send(gateway.port, '/sales/ping', { method: 'PUT', body: '{}' });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(reply.json()).toMatchObject({ error: { code: 'method_not_allowed', status: 405 } });
  });

  it('renders a timeout as application/problem+json', async () => {
    const upstream = await startUpstream((req) => req.resume());
    closers.push(upstream.close);
    const gateway = await startGateway(salesGateway(upstream.origin, { renderer: 'problem', upstream: { requestTimeout: 200 } }));
    closers.push(gateway.close);
    const reply = await send(gateway.port, '/sales/ping');
    expect(reply.status).toBe(504);
    expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(reply.json()).toMatchObject({ code: 'upstream_timeout', status: 504, title: 'Gateway Timeout' });
  });

  it('answers HEAD with an error status and headers but no body', async () => {
    const gateway = await refusedGateway('json');
    const reply = await send(gateway.port, '/sales/ping', { method: 'HEAD' });
    expect(reply.status).toBe(502);
    expect(reply.body.byteLength).toBe(0);
  });

  it('still proxies normally with the json renderer when the upstream is healthy', async () => {
    const upstream = await startUpstream(echo);
    closers.push(upstream.close);
    const gateway = await startGateway(salesGateway(upstream.origin, { renderer: 'json' }));
    closers.push(gateway.close);
    expect((await send(gateway.port, '/sales/ping')).status).toBe(200);
  });
});

describe('express adapter: a client that leaves while a hook runs', () => {
  it('settles without forwarding the request, nor taking an upstream socket, once the client is gone', async () => {
    const upstream = await startUpstream(echo);
    let entered!: () => void;
    const inHook = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let selected = false;
    let settled: string | undefined;
    const gateway = await startGateway(
      createGateway({
        observer: {
          backendSelected: () => (selected = true),
          upstreamFailed: (event) => (settled = event.error.code),
          upstreamSucceeded: () => (settled = 'succeeded'),
        },
      })
        .mount(
          service({ name: 'sales', prefix: '/sales' }, [
            get('/slow-hook', {
              before: async () => {
                entered();
                await released;
              },
            }),
          ]),
          [upstream.origin],
        )
        .build(),
    );
    try {
      const client = request({ host: '127.0.0.1', port: gateway.port, path: '/sales/slow-hook', agent: false });
      client.on('error', () => undefined);
      client.end();
      await inHook;
      client.destroy();
      await eventually('the gateway saw the client leave', async () => (await connectionsOf(gateway.server)) === 0);
      release();
      await eventually('the request was dispatched', () => selected);
      await eventually('the request settled', () => settled !== undefined);
      expect(settled).toBe('client_closed');
      expect(gateway.pool()).toEqual({ busy: 0, idle: 0 });
      expect(upstream.seen).toHaveLength(0);
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });

  it('does not forward a passthrough request whose client left during an earlier async middleware', async () => {
    const upstream = await startUpstream(echo);
    let entered!: () => void;
    const inMiddleware = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let settled: string | undefined;
    const gateway = await startGateway(
      salesGateway(upstream.origin, { observer: { upstreamFailed: (event) => (settled = event.error.code), upstreamSucceeded: () => (settled = 'succeeded') } }),
      {
        before: [
          (_req, _res, next) => {
            entered();
            released.then(() => next(), next);
          },
        ],
      },
    );
    try {
      const client = request({ host: '127.0.0.1', port: gateway.port, path: '/sales/ping', agent: false });
      client.on('error', () => undefined);
      client.end();
      await inMiddleware;
      client.destroy();
      await eventually('the gateway saw the client leave', async () => (await connectionsOf(gateway.server)) === 0);
      release();
      await eventually('the request settled', () => settled !== undefined);
      expect(settled).toBe('client_closed');
      expect(gateway.pool().busy).toBe(0);
      expect(upstream.seen).toHaveLength(0);
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });
});
