import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createGateway, get, post, service, type GatewayOptions } from '@apigate/core';
import {
  checkedJson,
  closeServer,
  connectionsOf,
  echo,
  eventually,
  listen,
  send,
  sendChunked,
  startGateway,
  startUpstream,
  tcpHandles,
  transportNames,
  type Echo,
  type GatewayApp,
  type Upstream,
  type UpstreamHandler,
} from './helpers.ts';

type Options = Omit<GatewayOptions<Record<string, never>>, 'state'>;
type Outcome = { status: number } | { error: string; replayed?: unknown };

/** An observer that records how each forwarded request settled. */
const recording = (outcomes: Outcome[]): Options['observer'] => ({
  upstreamSucceeded: (event) => outcomes.push({ status: event.status }),
  upstreamFailed: (event) => outcomes.push({ error: event.error.code, replayed: (event.error.details as { replayed?: unknown } | undefined)?.replayed }),
});

const stale = service({ name: 'stale', prefix: '/stale' }, [
  get('/ping'),
  post('/upload'),
  // A route that reads the body to check it: the gateway holds the bytes it forwards.
  { ...post('/orders'), input: checkedJson((value) => typeof (value as { sku?: unknown }).sku === 'string') },
]);

/**
 * The keep-alive race made deterministic: each connection's first request is answered (the
 * connection goes back to the gateway's pool), a later request on the same connection finds it
 * closed without an answer, as when the upstream's keep-alive timeout fires just as the request
 * is sent. With `always`, a fresh connection's first request is dropped too: an upstream that
 * fails every request from then on.
 */
const closesReusedConnections = (always = false): UpstreamHandler => {
  const answered = new WeakSet<Socket>();
  let failing = false;
  return (req, res, upstream) => {
    if (answered.has(req.socket) || (always && failing)) {
      failing = true;
      req.socket.destroy();
      return;
    }
    answered.add(req.socket);
    echo(req, res, upstream);
  };
};

describe.each(transportNames)('express adapter on the %s transport: stale pooled connections', (transport) => {
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
    const gateway = await startGateway(createGateway(options).mount(stale, [origin]).build(), { transport });
    opened.push(gateway);
    return gateway;
  };

  /** Warms the pool: one answered request leaves one idle connection to the upstream. */
  const pooledConnection = async (gateway: GatewayApp): Promise<void> => {
    const warm = await send(gateway.port, '/stale/ping?warm');
    expect(warm.status).toBe(200);
    await eventually('the connection is back in the pool', () => gateway.pool().idle === 1);
  };

  /**
   * Nothing leaked: no upstream socket in use, the upstream holds only the pooled idle
   * connections, and after closing everything the process has no more TCP handles than before.
   */
  const expectNothingLeaked = async (gateway: GatewayApp, upstream: Upstream): Promise<void> => {
    await eventually('no upstream socket left in use', () => gateway.pool().busy === 0);
    const idle = gateway.pool().idle;
    await eventually('the upstream holds only pooled connections', async () => (await connectionsOf(upstream.server)) === idle);
    await eventually('the gateway holds no client connection', async () => (await connectionsOf(gateway.server)) === 0);
    for (const resource of opened.reverse()) await resource.close();
    opened = [];
    await eventually('no TCP handle left over', () => tcpHandles() <= baseline);
  };

  it('replays a GET that met a stale pooled connection on a fresh one, and settles once as a success', async () => {
    const outcomes: Outcome[] = [];
    const upstream = await upstreamWith(closesReusedConnections());
    const gateway = await gatewayTo(upstream.origin, { observer: recording(outcomes) });
    await pooledConnection(gateway);
    const reply = await send(gateway.port, '/stale/ping?n=2');
    expect(reply.status).toBe(200);
    expect(reply.json<Echo>().url).toBe('/ping?n=2');
    // The warm-up's connection, then the replay's own.
    expect(upstream.connections()).toBe(2);
    // The replay went outside the pool, and said so: its connection closes after the response.
    expect(upstream.seen.map((seen) => seen.headers.connection)).toEqual(['keep-alive', 'close']);
    await eventually('both requests settled', () => outcomes.length === 2);
    expect(outcomes).toEqual([{ status: 200 }, { status: 200 }]);
    await expectNothingLeaked(gateway, upstream);
  });

  it('replays a POST whose JSON body the gateway holds, with the same bytes', async () => {
    const outcomes: Outcome[] = [];
    const upstream = await upstreamWith(closesReusedConnections());
    const gateway = await gatewayTo(upstream.origin, { observer: recording(outcomes) });
    await pooledConnection(gateway);
    const body = JSON.stringify({ sku: 'abc', qty: 2 });
    const reply = await send(gateway.port, '/stale/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(reply.status).toBe(200);
    const seen = reply.json<Echo>();
    expect(seen.method).toBe('POST');
    expect(seen.body).toBe(body);
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(upstream.connections()).toBe(2);
    await eventually('both requests settled', () => outcomes.length === 2);
    expect(outcomes).toEqual([{ status: 200 }, { status: 200 }]);
    await expectNothingLeaked(gateway, upstream);
  });

  it('does not replay a streamed upload: 502 upstream_reset, the upstream saw one attempt', async () => {
    const outcomes: Outcome[] = [];
    const upstream = await upstreamWith(closesReusedConnections());
    const gateway = await gatewayTo(upstream.origin, { observer: recording(outcomes) });
    await pooledConnection(gateway);
    const reply = await sendChunked(gateway.port, '/stale/upload', ['first part, ', 'second part']);
    expect(reply.status).toBe(502);
    expect(reply.text).toBe('upstream_reset: The upstream closed the connection before responding.\n');
    expect(upstream.connections()).toBe(1);
    await eventually('both requests settled', () => outcomes.length === 2);
    expect(outcomes).toEqual([{ status: 200 }, { error: 'upstream_reset', replayed: undefined }]);
    await expectNothingLeaked(gateway, upstream);
  });

  it('replays once only: an upstream that fails the replay too gives 502 upstream_reset', async () => {
    const outcomes: Outcome[] = [];
    const upstream = await upstreamWith(closesReusedConnections(true));
    const gateway = await gatewayTo(upstream.origin, { observer: recording(outcomes) });
    await pooledConnection(gateway);
    const reply = await send(gateway.port, '/stale/ping?n=2');
    expect(reply.status).toBe(502);
    expect(reply.text).toBe('upstream_reset: The upstream closed the connection before responding.\n');
    // The pooled connection and the one replay: no loop.
    expect(upstream.connections()).toBe(2);
    await eventually('both requests settled', () => outcomes.length === 2);
    expect(outcomes).toEqual([{ status: 200 }, { error: 'upstream_reset', replayed: true }]);
    // The next request gets a fresh connection, and is answered 502 as well, once.
    const next = await send(gateway.port, '/stale/ping?n=3');
    expect(next.status).toBe(502);
    expect(upstream.connections()).toBe(3);
    await expectNothingLeaked(gateway, upstream);
  });

  it('does not replay a request whose fresh connection was reset: that is the upstream failing', async () => {
    const outcomes: Outcome[] = [];
    const upstream = await upstreamWith((req) => req.socket.destroy());
    const gateway = await gatewayTo(upstream.origin, { observer: recording(outcomes) });
    const reply = await send(gateway.port, '/stale/ping');
    expect(reply.status).toBe(502);
    expect(reply.text).toBe('upstream_reset: The upstream closed the connection before responding.\n');
    expect(upstream.connections()).toBe(1);
    await eventually('the request settled', () => outcomes.length === 1);
    expect(outcomes).toEqual([{ error: 'upstream_reset', replayed: undefined }]);
    await expectNothingLeaked(gateway, upstream);
  });

  it('retires a pooled connection before the upstream closes it, from its Keep-Alive: timeout hint', async () => {
    // The upstream announces `Keep-Alive: timeout=2` and closes idle connections at exactly 2 s;
    // the gateway's own idleTimeout is far longer. Who closed the connection shows in whether the
    // upstream's socket read the gateway's FIN ('end') before it closed.
    const closedBy: string[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    server.keepAliveTimeout = 2_000;
    server.keepAliveTimeoutBuffer = 0;
    server.on('connection', (socket: Socket) => {
      let ended = false;
      socket.on('end', () => (ended = true));
      socket.on('close', () => closedBy.push(ended ? 'gateway' : 'upstream'));
    });
    const port = await listen(server);
    opened.push({ close: () => closeServer(server) });
    const gateway = await gatewayTo(`http://127.0.0.1:${port}`, { upstream: { idleTimeout: 60_000 } });
    const reply = await send(gateway.port, '/stale/ping');
    expect(reply.status).toBe(200);
    await eventually('the pooled connection closed', () => closedBy.length === 1, 1_000);
    expect(closedBy).toEqual(['gateway']);
    expect(gateway.pool().idle).toBe(0);
  });
});
