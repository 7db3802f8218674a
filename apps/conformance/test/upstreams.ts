import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { flood, refusedOrigin, type Flood } from '@apigate/test-utils/http';
import { idleKeepAlive, type Origins } from '../src/gateway.ts';
import { startIntrospectionUpstream, startJwksUpstream, type IntrospectionUpstream, type JwksUpstream } from './auth-upstreams.ts';

/** What the echo upstream reports of a request (its JSON body). */
export interface Echo {
  readonly name: string;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A response body big enough to span many chunks and TCP windows; deterministic, to compare. */
export const bigBody = Buffer.alloc(3 * 1024 * 1024, 'apigate conformance/');

/**
 * An upload of bytes that never repeat in step with a buffer size (each byte is a function of its
 * offset and of the offset's higher bits), so that a relay reusing or reordering its buffers
 * changes what `/digest` reports.
 */
export const variedBody = Buffer.from(Uint8Array.from({ length: 3 * 1024 * 1024 + 17 }, (_, i) => (i * 131 + (i >>> 11) * 7 + (i >>> 19)) & 255));

/** The SHA-256 of a body, in hex, as `/digest` reports it. */
export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** `/trickle` sends this many chunks, 100 ms apart: about 1.5 times the gateway's requestTimeout. */
export const trickleChunks = 15;

/**
 * `/flood` sends this much, honouring back-pressure: several times what every buffer between the
 * upstream and a client that does not read holds (the upstream is stuck after about 8 MiB here).
 */
export const floodBytes = 32 * 1024 * 1024;

/** An event the test waits for; resolves at most once. */
class Signal<T = void> {
  readonly promise: Promise<T>;
  fired = false;
  #resolve!: (value: T) => void;
  constructor() {
    this.promise = new Promise((resolve) => (this.#resolve = resolve));
  }
  fire(value: T): void {
    if (this.fired) return;
    this.fired = true;
    this.#resolve(value);
  }
}

/** One streaming exchange on the echo upstream: the test decides when it may finish. */
export interface StreamGate {
  readonly release: () => void;
}

/** One `/hold` exchange: a response that keeps streaming until the client goes away. */
export interface Hold {
  readonly started: Promise<void>;
  /** Resolves true when the upstream request closed before the upstream ended the response. */
  readonly closed: Promise<boolean>;
}

/** One `/cut` exchange: the head and a first part, then the upstream dies when the test says so. */
export interface Cut {
  /** Resets the upstream connection mid-body. */
  readonly cut: () => void;
}

/**
 * The background calls of one audit id (`/background?id=…&step=…`, made by the platform route's
 * waitUntil work): the `held` step is answered only when the test releases it.
 */
export interface Background {
  /** Resolves when the `held` call arrived. */
  readonly arrived: Promise<void>;
  readonly release: () => void;
  /** The steps that arrived so far, in order. */
  readonly steps: () => readonly string[];
}

/** One `/sink` exchange: an upload the upstream reads and answers with its size. */
export interface Sink {
  /** Bytes received so far. */
  readonly received: () => number;
  /** Resolves true when the upstream request closed before its body was complete. */
  readonly closed: Promise<boolean>;
}

export interface EchoUpstream {
  readonly name: string;
  readonly origin: string;
  /** How many requests this upstream has received. */
  requests(): number;
  /** Registers the next `/stream` exchange: it ends only when released. */
  nextStream(): StreamGate;
  /** Registers the next `/hold` exchange. */
  nextHold(): Hold;
  /** Registers the next `/drip` exchange: an upload the upstream reads without answering. */
  nextDrip(): Hold;
  /** The next `/flood` exchange, once it has started writing. */
  nextFlood(): Promise<Flood>;
  /** Registers the next `/sink` exchange. */
  nextSink(): Sink;
  /** Registers the background calls of an audit id. */
  background(id: string): Background;
  /** Registers the next `/silent` exchange: a request the upstream reads and never answers. */
  nextSilent(): Hold;
  /** Registers the next `/cut` exchange; without one, `/cut` dies right after its first part. */
  nextCut(): Cut;
  /** Connections the upstream holds open now, idle or busy. */
  openConnections(): number;
  /** Requests whose response has not closed yet. */
  inFlight(): number;
  close(): Promise<void>;
}

export interface Upstreams {
  readonly echo: readonly EchoUpstream[];
  readonly origins: Origins;
  /** How many requests the slow upstream received, and how many connections it holds open now. */
  readonly slowRequests: () => number;
  readonly slowConnections: () => number;
  /** How many connections the reset upstream accepted. */
  readonly resetConnections: () => number;
  /** Connections the stale upstream accepted, and requests it dropped unanswered on a reused one. */
  readonly staleCounts: () => { readonly connections: number; readonly dropped: number };
  /** How many requests the hang-up upstream received. */
  readonly hangupRequests: () => number;
  /** Connections held open now, over every upstream: what a gateway's pool or a leak keeps. */
  readonly openConnections: () => number;
  /** Requests to the echo and slow upstreams whose response has not closed yet. */
  readonly inFlight: () => number;
  /** The IdP of the remote-JWKS routes and the introspection endpoint. */
  readonly jwks: JwksUpstream;
  readonly introspection: IntrospectionUpstream;
  close(): Promise<void>;
}

const listen = async (server: Server | TcpServer): Promise<string> => {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

/** Counts the connections a server holds open (sockets of any kind, idle or busy). */
const countOpen = (server: Server | TcpServer): (() => number) => {
  let open = 0;
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => open--);
  });
  return () => open;
};

const closeHttp = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

const readBody = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

/** Longer than any exchange a case holds open on purpose (`/hold` beats for 20 s). */
const exchangeBound = 30_000;

/** An echo upstream named `name`: answers JSON describing the request, with a few special paths. */
const startEcho = async (name: string): Promise<EchoUpstream> => {
  const streams: Signal[] = [];
  const holds: { started: Signal; closed: Signal<boolean> }[] = [];
  const drips: { started: Signal; closed: Signal<boolean> }[] = [];
  const floods: Signal<Flood>[] = [];
  const sinks: { received: number; closed: Signal<boolean> }[] = [];
  const silents: { started: Signal; closed: Signal<boolean> }[] = [];
  const cuts: Signal[] = [];
  const backgrounds = new Map<string, { arrived: Signal; release: Signal; steps: string[] }>();
  const timers = new Set<NodeJS.Timeout>();

  let requests = 0;
  let inFlight = 0;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    requests++;
    inFlight++;
    const path = (req.url ?? '/').split('?')[0];
    // A liveness bound, not a measurement: an exchange the gateway failed to close is ended here,
    // so that the case that leaked it fails alone (its leftOver check gives up first), instead of
    // every later case and the suite's teardown waiting on it. `/generate` (the memory test's
    // 200 MiB) ends by itself, however long a busy host takes.
    const bound = path === '/generate' ? undefined : setTimeout(() => res.socket?.destroy(), exchangeBound).unref();
    res.once('close', () => {
      inFlight--;
      clearTimeout(bound);
    });
    if (path === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bigBody.byteLength, 'x-upstream': name });
      res.end(bigBody);
      return;
    }
    if (path === '/stream') {
      const gate = streams.shift() ?? new Signal();
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
      res.write('first\n');
      void gate.promise.then(() => res.end('last\n'));
      return;
    }
    if (path === '/trickle') {
      // Longer in total than requestTimeout, never silent for long: must not be cut.
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
      let sent = 0;
      const tick = setInterval(() => {
        res.write('tick\n');
        if (++sent < trickleChunks) return;
        clearInterval(tick);
        timers.delete(tick);
        res.end();
      }, 100);
      timers.add(tick);
      res.on('close', () => {
        clearInterval(tick);
        timers.delete(tick);
      });
      return;
    }
    if (path === '/drip') {
      const drip = drips.shift() ?? { started: new Signal(), closed: new Signal<boolean>() };
      req.once('data', () => drip.started.fire());
      req.resume();
      // Never answers: only the client leaving (or the gateway giving up) closes the exchange.
      req.on('close', () => drip.closed.fire(!req.complete));
      res.on('close', () => drip.closed.fire(!req.complete));
      return;
    }
    if (path === '/generate') {
      // `?bytes=n` generated bytes from one reused chunk, honouring back-pressure: no body is held.
      req.resume();
      flood(res, Number(new URLSearchParams(req.url?.split('?')[1]).get('bytes')));
      return;
    }
    if (path?.startsWith('/flood') === true) {
      req.resume();
      (floods.shift() ?? new Signal<Flood>()).fire(flood(res, floodBytes));
      return;
    }
    if (path === '/digest') {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.byteLength;
        hash.update(chunk);
      });
      req.on('end', () => res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') })));
      return;
    }
    if (path?.startsWith('/sink') === true) {
      const sink = sinks.shift() ?? { received: 0, closed: new Signal<boolean>() };
      req.on('data', (chunk: Buffer) => (sink.received += chunk.byteLength));
      req.on('end', () => res.end(JSON.stringify({ bytes: sink.received })));
      req.on('close', () => sink.closed.fire(!req.complete));
      return;
    }
    if (path === '/background') {
      const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
      const background = backgrounds.get(query.get('id') ?? '');
      const step = query.get('step') ?? '';
      req.resume();
      // The calls come from the gateway's background work, by this process's own fetch in the Node
      // harnesses: a connection it kept pooled would count as a TCP handle no case explains.
      res.setHeader('connection', 'close');
      background?.steps.push(step);
      if (step !== 'held' || background === undefined) {
        res.end('noted');
        return;
      }
      background.arrived.fire();
      void background.release.promise.then(() => res.end('released'));
      return;
    }
    if (path === '/cookies') {
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
      res.setHeader('x-multi', ['one', 'two']);
      res.setHeader('x-upstream', name);
      res.end('cookies');
      return;
    }
    if (path === '/gzip') {
      const body = gzipSync(Buffer.from(JSON.stringify({ compressed: true })));
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.byteLength });
      res.end(body);
      return;
    }
    if (path === '/base/moved') {
      // Its own origin (the Host the gateway sent) in every URL header, and cookies for its own domain.
      const own = `http://${req.headers.host ?? ''}`;
      res.writeHead(302, {
        location: `${own}/base/landing?x=1`,
        'content-location': `${own}/base/doc`,
        refresh: `0; url=${own}/base/later`,
        'set-cookie': ['sid=1; Domain=internal.example; Path=/; HttpOnly', 'pref=2; Path=/base/prefs'],
        'content-length': 0,
      });
      res.end();
      return;
    }
    if (path === '/base/malformed') {
      res.writeHead(302, { location: 'http://[bad', refresh: 'soon; url=', 'set-cookie': ['garbage; Domain=internal.example', 'ok=1; Domain=internal.example; Path=/'], 'content-length': 0 });
      res.end();
      return;
    }
    if (path === '/redirect') {
      res.writeHead(302, 'Found Elsewhere', { location: '/elsewhere', 'content-length': 0 });
      res.end();
      return;
    }
    if (path === '/no-content') {
      res.writeHead(204, { 'x-upstream': name });
      res.end();
      return;
    }
    if (path === '/cut' || path === '/stall') {
      // `?bytes=n` declares n bytes (1000 when absent), of which only the first part comes.
      const declared = Number(new URL(req.url ?? '/', 'http://upstream').searchParams.get('bytes') ?? 1000);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': declared });
      res.write('partial\n');
      // `/stall` goes silent until the gateway's requestTimeout. `/cut` dies mid-body: when the
      // test says so (once its client holds the first part), else right away.
      if (path === '/stall') return;
      const socket = res.socket;
      const gate = cuts.shift();
      if (gate === undefined) setImmediate(() => socket?.resetAndDestroy());
      else void gate.promise.then(() => socket?.resetAndDestroy());
      return;
    }
    if (path === '/silent') {
      const silent = silents.shift() ?? { started: new Signal(), closed: new Signal<boolean>() };
      req.resume();
      // Never answers: only the client leaving (or the gateway giving up) closes the exchange.
      res.on('close', () => silent.closed.fire(!res.writableFinished));
      silent.started.fire();
      return;
    }
    if (path === '/hold') {
      const hold = holds.shift() ?? { started: new Signal(), closed: new Signal<boolean>() };
      // `?length=N` declares a length the beats never reach: a relayed body of a known length.
      const length = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('length');
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name, ...(length === null ? {} : { 'content-length': length }) });
      res.write('beat\n');
      hold.started.fire();
      // Heartbeats keep the gateway's inactivity timeout from firing: only the client leaving
      // can close this exchange early.
      const beat = setInterval(() => res.write('beat\n'), 100);
      timers.add(beat);
      let beats = 0;
      const stopAfter = setInterval(() => {
        if (++beats < 200) return;
        clearInterval(stopAfter);
        timers.delete(stopAfter);
        res.end();
      }, 100);
      timers.add(stopAfter);
      res.on('close', () => {
        clearInterval(beat);
        clearInterval(stopAfter);
        timers.delete(beat);
        timers.delete(stopAfter);
        hold.closed.fire(!res.writableFinished);
      });
      return;
    }
    readBody(req).then(
      (body) => {
        const echo: Echo = { name, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
        const payload = JSON.stringify(echo);
        const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'x-upstream': name };
        if (path === '/hop') {
          // Hop-by-hop response headers, and one the upstream's Connection names.
          headers.connection = 'keep-alive, x-upstream-secret';
          headers['x-upstream-secret'] = 'hidden';
          headers['keep-alive'] = 'timeout=5';
          headers['x-upstream-public'] = 'shown';
        }
        res.writeHead(200, headers);
        res.end(payload);
      },
      () => res.destroy(),
    );
  };

  const server = createServer(handle);
  const openConnections = countOpen(server);
  const origin = await listen(server);
  return {
    name,
    origin,
    requests: () => requests,
    openConnections,
    inFlight: () => inFlight,
    nextSilent() {
      const silent = { started: new Signal(), closed: new Signal<boolean>() };
      silents.push(silent);
      return { started: silent.started.promise, closed: silent.closed.promise };
    },
    nextCut() {
      const gate = new Signal();
      cuts.push(gate);
      return { cut: () => gate.fire() };
    },
    nextStream() {
      const signal = new Signal();
      streams.push(signal);
      return { release: () => signal.fire() };
    },
    nextHold() {
      const hold = { started: new Signal(), closed: new Signal<boolean>() };
      holds.push(hold);
      return { started: hold.started.promise, closed: hold.closed.promise };
    },
    nextDrip() {
      const drip = { started: new Signal(), closed: new Signal<boolean>() };
      drips.push(drip);
      return { started: drip.started.promise, closed: drip.closed.promise };
    },
    nextFlood() {
      const signal = new Signal<Flood>();
      floods.push(signal);
      return signal.promise;
    },
    nextSink() {
      const sink = { received: 0, closed: new Signal<boolean>() };
      sinks.push(sink);
      return { received: () => sink.received, closed: sink.closed.promise };
    },
    background(id) {
      const background = { arrived: new Signal(), release: new Signal(), steps: [] as string[] };
      backgrounds.set(id, background);
      return { arrived: background.arrived.promise, release: () => background.release.fire(), steps: () => [...background.steps] };
    },
    async close() {
      for (const timer of timers) clearInterval(timer);
      for (const gate of streams) gate.fire();
      for (const background of backgrounds.values()) background.release.fire();
      for (const gate of cuts) gate.fire();
      await closeHttp(server);
    },
  };
};

/** Starts the echo upstreams `a`, `b`, `c`, the slow, reset, idle, stale and hang-up upstreams, and finds a closed port. */
export const startUpstreams = async (): Promise<Upstreams> => {
  const echo = await Promise.all(['a', 'b', 'c'].map(startEcho));

  let slowCount = 0;
  let slowInFlight = 0;
  const slow = createServer((req, res) => {
    // Never answers: the gateway's requestTimeout must fire.
    slowCount++;
    slowInFlight++;
    req.resume();
    const bound = setTimeout(() => res.socket?.destroy(), exchangeBound).unref();
    res.once('close', () => {
      slowInFlight--;
      clearTimeout(bound);
    });
  });
  const slowOpen = countOpen(slow);
  const slowOrigin = await listen(slow);

  let hangupCount = 0;
  const hangup = createServer((req) => {
    // Closes the connection (FIN, not RST) once the request is in, without a response byte.
    hangupCount++;
    req.socket.destroy();
  });
  const hangupOpen = countOpen(hangup);
  const hangupOrigin = await listen(hangup);

  let resetCount = 0;
  const sockets = new Set<Socket>();
  const reset = createTcpServer((socket) => {
    resetCount++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    // A reset (RST) as soon as the request arrives: no response byte is ever sent.
    socket.once('data', () => socket.resetAndDestroy());
  });
  const resetOrigin = await listen(reset);

  // Answers `{ method, body }` with `Connection: keep-alive` set by hand, which keeps Node from
  // announcing `Keep-Alive: timeout=0`: the gateway learns the timeout from nothing but the close.
  const idle = createServer((req, res) => {
    void readBody(req).then((body) => {
      const payload = JSON.stringify({ method: req.method, body });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), connection: 'keep-alive' });
      res.end(payload);
    });
  });
  idle.keepAliveTimeout = idleKeepAlive;
  // Node ≥ 24.6 keeps a connection keepAliveTimeoutBuffer (1 s) past the timeout it announces.
  idle.keepAliveTimeoutBuffer = 0;
  const idleOrigin = await listen(idle);

  // The keep-alive race made deterministic: a connection's first request is answered, a later one
  // on it finds the connection closed, as when the upstream's keep-alive timeout fires just then.
  const staleCounts = { connections: 0, dropped: 0 };
  const answered = new WeakSet<Socket>();
  const stale = createServer((req, res) => {
    if (answered.has(req.socket)) {
      staleCounts.dropped++;
      req.socket.destroy();
      return;
    }
    answered.add(req.socket);
    void readBody(req).then((body) => {
      const payload = JSON.stringify({ method: req.method, body });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
    });
  });
  stale.on('connection', () => staleCounts.connections++);
  const staleOrigin = await listen(stale);


  const jwks = await startJwksUpstream();
  const introspection = await startIntrospectionUpstream();

  return {
    echo,
    origins: { echo: echo.map((e) => e.origin), slow: slowOrigin, refused: refusedOrigin, reset: resetOrigin, idle: idleOrigin, stale: staleOrigin, hangup: hangupOrigin, jwks: jwks.origin, introspection: introspection.origin },
    slowRequests: () => slowCount,
    slowConnections: slowOpen,
    resetConnections: () => resetCount,
    staleCounts: () => ({ ...staleCounts }),
    hangupRequests: () => hangupCount,
    openConnections: () => echo.reduce((sum, e) => sum + e.openConnections(), 0) + slowOpen() + hangupOpen() + sockets.size,
    inFlight: () => echo.reduce((sum, e) => sum + e.inFlight(), 0) + slowInFlight,
    jwks,
    introspection,
    async close() {
      await jwks.close();
      await introspection.close();
      await Promise.all(echo.map((e) => e.close()));
      await closeHttp(slow);
      await closeHttp(idle);
      await closeHttp(stale);
      await closeHttp(hangup);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => reset.close(() => resolve()));
    },
  };
};
