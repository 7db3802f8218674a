import { Agent as HttpAgent, type AgentOptions, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Duplex, type Readable } from 'node:stream';
import type { Backend, ForwardPlan, ResponseTransforms, Transport, UpstreamConfig } from '@apigate/core';
import { upstreamDefaults } from '@apigate/core';
import { clientTimeoutCode, noBindingCode, TransportError, upstreamTimeoutCode, type AttemptDecision, type AttemptFailure } from '@apigate/core/exchange';
import { GatewayError } from '@apigate/errors';
import { ProxyServer } from 'http-proxy-3';
import { cleanResponseHeaders } from './hygiene.ts';
import { NodeResponseHeaders } from './response-headers.ts';

/** One request to forward: the client's request and response, and a replacement body if any. */
export interface NodeExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Bytes to send instead of `req`'s stream, when the body was already read. */
  readonly body?: Uint8Array | undefined;
  /** Answers the client when the upstream failed before the response started. */
  readonly fail: (req: IncomingMessage, res: ServerResponse, error: GatewayError) => void;
}

interface Target {
  readonly protocol: string;
  readonly host: string;
  readonly hostname: string;
  readonly port: string;
}

/**
 * What http-proxy-3 pipes into the upstream request in place of the client's stream (its `buffer`
 * option, of which it only calls pipe()): a body already in memory, or none at all. Ending the
 * upstream request at once sends its head and body in one write, with no stream per request; a
 * Readable (or piping a bodyless client request, which ends a tick later) cost about 5 % of a
 * proxied GET in the benchmark.
 */
class WholeBody {
  readonly #bytes: Uint8Array | undefined;

  constructor(bytes?: Uint8Array) {
    this.#bytes = bytes;
  }

  pipe(destination: ClientRequest): ClientRequest {
    const bytes = this.#bytes;
    if (bytes === undefined) destination.end();
    // Node joins the head and a latin1 string body into one string and one write(); a Buffer body
    // goes out as a writev() of head and body, about a tenth dearer per request in the profile of
    // the JSON-validated route. latin1 maps every byte to itself: the bytes are unchanged.
    else if (bytes.byteLength <= smallBody) destination.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'), 'latin1');
    else destination.end(bytes);
    return destination;
  }
}

/** Bodies up to this size are copied into the head's write; larger ones are written as they are. */
const smallBody = 16 * 1024;

const noBody = new WholeBody();

/** A request whose framing says it has no body (no Transfer-Encoding, no or zero Content-Length). */
const bodyless = (req: IncomingMessage): boolean => {
  const { headers } = req;
  return headers['transfer-encoding'] === undefined && (headers['content-length'] === undefined || headers['content-length'] === '0');
};

/** What forward() hands http-proxy-3 for one attempt. */
interface AttemptOptions {
  readonly target: Target;
  readonly agent: HttpAgent | HttpsAgent | false;
  readonly method: string;
  readonly buffer?: WholeBody;
  readonly chunkedBody?: boolean;
}

const flightKey = Symbol('apigate.flight');
type Tagged = ServerResponse & { [flightKey]?: Flight };

interface Timeouts {
  readonly request: number;
  readonly client: number;
}

/**
 * One forwarded request, and which side the gateway is waiting on, which decides what its timer
 * measures (DESIGN.md rule 7). The gateway waits on the **client**
 * - while it relays the client's upload and the upstream takes every byte as it comes (the pipe
 *   has not paused `req`): what is missing is the client's next bytes;
 * - while the client reads the response slower than it comes (`res.write()` returned false and
 *   the pipe paused `proxyRes` until 'drain'): the upstream may have more, the client takes none.
 * Otherwise it waits on the **upstream**: to accept upload bytes (the pipe paused `req` because
 * the upstream request is full), for the response head once the upload is all in, and for the
 * next response bytes while the client keeps up.
 *
 * One timer serves both sides: the upstream socket's idle timeout, which Node already refreshes
 * on every read and write. Its length (requestTimeout or clientTimeout) and its meaning change
 * only when the side changes, on backpressure events, never per chunk. That the socket's silence
 * is the client's while the gateway waits on an upload holds because each byte the client sends
 * is written upstream at once; while the client is not reading, the paused response stops the
 * socket's reads, and the client's progress ('drain') hands the timer back to the upstream.
 */
class Flight {
  readonly plan: ForwardPlan;
  readonly #timeouts: Timeouts;
  proxyReq: ClientRequest | undefined;
  /** The upstream socket of the current attempt, and what it had read when the attempt got it. */
  socket: Socket | undefined;
  readBefore = 0;
  /** Attempts sent so far: 2 once a stale pooled connection made the gateway replay the request. */
  attempts = 0;
  #uploading: boolean;
  #uploadBlocked = false;
  #downloadBlocked = false;
  #watchingResume = false;
  /** Whether the timer now measures the client's silence. */
  onClient: boolean;

  constructor(plan: ForwardPlan, timeouts: Timeouts, uploading: boolean) {
    this.plan = plan;
    this.#timeouts = timeouts;
    this.#uploading = uploading;
    this.onClient = uploading;
  }

  get timeout(): number {
    return this.onClient ? this.#timeouts.client : this.#timeouts.request;
  }

  readonly expire = (): void => {
    this.proxyReq?.destroy(
      this.onClient
        ? new TransportError(clientTimeoutCode, 'the client was silent for longer than clientTimeout')
        : new TransportError(upstreamTimeoutCode, 'the upstream was silent for longer than requestTimeout'),
    );
  };

  uploadBlocked(blocked: boolean): void {
    this.#uploadBlocked = blocked;
    this.#update();
  }

  uploadEnded(): void {
    this.#uploading = false;
    this.#update();
  }

  downloadPaused(proxyRes: IncomingMessage): void {
    if (!this.#watchingResume) {
      this.#watchingResume = true;
      proxyRes.on('resume', () => {
        this.#downloadBlocked = false;
        this.#update();
      });
    }
    this.#downloadBlocked = true;
    this.#update();
  }

  #update(): void {
    const onClient = this.#downloadBlocked || (this.#uploading && !this.#uploadBlocked);
    if (onClient === this.onClient) return;
    this.onClient = onClient;
    // A no-op once the response has ended (ClientRequest ignores it then), so a late event never
    // touches a socket that went back to the pool.
    this.proxyReq?.setTimeout(this.timeout);
  }
}

/**
 * connectTimeout for a new connection to an `https:` backend, up to the end of its TLS handshake,
 * as on undici and NGINX (`proxy_connect_timeout`). http-proxy-3's own timer stops at the TCP
 * connection; a handshake the upstream never answers then ran into the request timer, which Node
 * postpones once while the request's write is queued behind the handshake (twice requestTimeout).
 */
const handshakeTimeout = (socket: TLSSocket, ms: number): void => {
  const timer = setTimeout(() => socket.destroy(new TransportError('ECONNECT_TIMEOUT', 'the TLS handshake did not complete within connectTimeout')), ms);
  timer.unref();
  const done = (): void => {
    clearTimeout(timer);
    socket.off('secureConnect', done);
    socket.off('close', done);
  };
  socket.once('secureConnect', done);
  socket.once('close', done);
};

/** How a pooled connection the upstream had closed shows when a request is written on it. */
const staleCodes = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * Whether a failed attempt met a stale pooled connection, one the upstream closed while it sat
 * idle or just as the request went out on it (the keep-alive race, nodejs/node#47130): the
 * socket came from the pool, it was reset or hung up ("socket hang up" is an ECONNRESET), and
 * not one byte of a response arrived on it. The upstream then never processed the request,
 * whatever its method: it had closed the connection before reading it.
 */
const metStaleConnection = (flight: Flight, error: NodeJS.ErrnoException): boolean =>
  flight.proxyReq?.reusedSocket === true && staleCodes.has(error.code ?? '') && flight.socket !== undefined && flight.socket.bytesRead === flight.readBefore;

/**
 * Ends a request whose last attempt failed, as both Node transports do: the failure rendered for a
 * client still waiting on a response, else an abort.
 */
export const endFailed = (exchange: NodeExchange, decision: Extract<AttemptDecision, { next: 'end' }>): void => {
  const { req, res } = exchange;
  // The client already has the whole response (an upstream that answered before reading the
  // upload, then dropped it): nothing to abort.
  if (res.writableFinished) return;
  if (decision.answer === undefined || res.headersSent || res.destroyed || req.socket.destroyed) {
    // The response started (or the client left): there is no second response, only an abort.
    res.destroy();
    return;
  }
  if (decision.close) res.shouldKeepAlive = false;
  exchange.fail(req, res, decision.answer);
};

/** The outcome of a request whose client closed the connection first (never rendered). */
export const clientClosed = (): GatewayError => new GatewayError('client_closed');

/**
 * After a complete response, an upload the upstream has not read (it answered early: 401, 413)
 * is cut towards the upstream and drained from the client, as Node's own server does, so that
 * the client can finish sending and read the response. Without this the upload stalls (the
 * ClientRequest waits for a 'drain' that does not come once its response has ended) until
 * keep-alive timeouts reset both connections, and the client often loses the response.
 */
const stopUpload = (proxyRes: IncomingMessage, req: IncomingMessage): void => {
  const proxyReq = (proxyRes as IncomingMessage & { req?: ClientRequest }).req;
  if (proxyReq === undefined || proxyReq.writableFinished) return;
  req.unpipe(proxyReq);
  proxyReq.destroy();
  if (!req.readableEnded) req.resume();
};

/** A proxied response whose body flows through the response phases' transforms. */
interface Transformed {
  readonly proxyRes: IncomingMessage;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly status: number;
  readonly transforms: ResponseTransforms;
  readonly flight: Flight;
}

/**
 * Pipes the upstream's body through each transform (a Web stream pair as a Node Duplex) into the
 * client's response, with the guarantees of the plain pipe: backpressure reaches back stage by
 * stage, so a client that reads slowly fills the stages and the pipe pauses `proxyRes`, which
 * hands the timer to the client as before (a transform that takes long to make its output counts
 * as that wait too); an upstream failure or a failed transform aborts the client connection (the
 * head is out: there is no second response); a client that leaves aborts the upstream. The
 * request settles once, with the first ending.
 */
const pipeTransformed = ({ proxyRes, req, res, status, transforms, flight }: Transformed): void => {
  const { plan } = flight;
  // The DOM's and node:stream/web's declarations of the same Web streams differ in TypeScript only.
  const stages = transforms.streams.map((stream) => Duplex.fromWeb(stream as unknown as Parameters<typeof Duplex.fromWeb>[0]));
  let source: Readable = proxyRes;
  for (const stage of stages) source = source.pipe(stage);
  source.pipe(res);
  proxyRes.on('pause', () => flight.downloadPaused(proxyRes));
  // Destroyed without an error, so that the stages cut by another ending report nothing.
  const stop = (): void => {
    for (const stage of stages) stage.destroy();
  };
  for (const [index, stage] of stages.entries()) {
    stage.on('error', (error: unknown) => {
      // A response already cut (the client left, the upstream failed) has settled: this is its echo.
      if (!res.destroyed) plan.settle({ error: transforms.failed(index, error) });
      res.destroy();
      proxyRes.destroy();
      stop();
    });
  }
  settleOnEnd({ proxyRes, req, res, status, plan, stop });
};

/** A proxied response whose head is out, and what ends with it. */
interface Ending {
  readonly proxyRes: IncomingMessage;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly status: number;
  readonly plan: ForwardPlan | undefined;
  /** Destroys what sits between the upstream and the client (transform stages), if anything. */
  readonly stop?: () => void;
}

/**
 * The two listeners that settle a proxied response however it ends, with or without transforms.
 * The upstream failing mid-body aborts the client connection, never a second response. 'close'
 * follows every response: complete ('finish' came first), or cut because the client left
 * (http-proxy-3 then aborts the upstream request). Settling is idempotent; the first wins.
 */
const settleOnEnd = ({ proxyRes, req, res, status, plan, stop }: Ending): void => {
  proxyRes.on('error', (error: NodeJS.ErrnoException) => {
    plan?.failed({ error, stale: false, replayable: false, started: true });
    res.destroy();
  });
  res.once('close', () => {
    if (res.writableFinished) {
      stopUpload(proxyRes, req);
      plan?.settle({ status });
      return;
    }
    plan?.settle({ error: clientClosed() });
    proxyRes.destroy();
    stop?.();
  });
};

/**
 * The reference Node transport: http-proxy-3 over keep-alive agents. Streams both ways, maps
 * upstream faults to GatewayErrors, aborts the client connection when the upstream fails
 * mid-response, and aborts the upstream request when the client goes away. The adapters make an
 * UndiciTransport when given none; pass this one where Node's agents are wanted.
 * @example expressGateway(gateway, { transport: new NodeTransport(gateway.upstream) })
 */
export class NodeTransport implements Transport<NodeExchange> {
  readonly httpAgent: HttpAgent;
  readonly httpsAgent: HttpsAgent;
  readonly #proxy: ProxyServer;
  readonly #targets = new Map<string, Target>();
  readonly #timeouts: Timeouts;
  readonly #agentOptions: AgentOptions;
  readonly #own = new Map<Backend, HttpAgent | HttpsAgent>();

  constructor(config: UpstreamConfig = {}) {
    const settings = { ...upstreamDefaults };
    for (const [name, value] of Object.entries(config)) if (value !== undefined) Object.assign(settings, { [name]: value });
    const agentOptions = {
      keepAlive: true,
      timeout: settings.idleTimeout,
      maxFreeSockets: settings.maxIdleSockets,
      noDelay: settings.noDelay,
      scheduling: 'lifo' as const,
    };
    this.#agentOptions = agentOptions;
    this.httpAgent = new HttpAgent(agentOptions);
    this.httpsAgent = new HttpsAgent(agentOptions);
    this.#timeouts = { request: settings.requestTimeout, client: settings.clientTimeout };
    this.#proxy = new ProxyServer({
      changeOrigin: !settings.preserveHost,
      // The upstream URI is sent exactly as planned: http-proxy-3 re-parses a target's
      // pathname/search with WHATWG URL, which percent-encodes quotes and <> in the query.
      // With `toProxy` and no `prependPath` it sends `req.url` as is (see forward()).
      toProxy: true,
      prependPath: false,
      selfHandleResponse: true,
      connectTimeout: settings.connectTimeout,
    });
    this.#proxy.on('proxyReq', (proxyReq, _req, res, _options, socket) => {
      if (!settings.noDelay) proxyReq.setNoDelay(false);
      const flight = (res as Tagged)[flightKey];
      if (flight === undefined) return;
      flight.proxyReq = proxyReq;
      flight.socket = socket;
      // A reused socket has read the earlier responses: only bytes past these are this attempt's.
      flight.readBefore = socket.bytesRead;
      proxyReq.setTimeout(flight.timeout, flight.expire);
      if (socket.connecting && (socket as TLSSocket).encrypted) handshakeTimeout(socket as TLSSocket, settings.connectTimeout);
    });
    this.#proxy.on('proxyRes', (proxyRes, req, res) => this.#respond(proxyRes, req, res as Tagged));
    // http-proxy-3 gives a DELETE/OPTIONS without Content-Length a `Content-Length: 0` and drops
    // Transfer-Encoding, yet still pipes the body: a chunked body would then reach the upstream as
    // a second, smuggled request on the pooled connection. Keep such a body chunked.
    // (Registered before 'timeout', the pass after 'deleteLength': http-proxy-3's after() inserts
    // in front of the named pass.)
    this.#proxy.before('web', 'timeout', (req, _res, options) => {
      if ((options as { chunkedBody?: boolean }).chunkedBody !== true) return;
      delete req.headers['content-length'];
      req.headers['transfer-encoding'] = 'chunked';
    });
    // http-proxy-3 handles a reset caused by the client leaving itself (it destroys the upstream
    // request) and calls no error callback: settle the plan here so balancers and observers hear.
    this.#proxy.on('econnreset', (_error, _req, res) => (res as Tagged)[flightKey]?.plan.settle({ error: clientClosed() }));
    this.#proxy.on('error', () => {
      // Errors reach the per-request callback; this listener only keeps a stray one from throwing.
    });
  }

  forward(exchange: NodeExchange, plan: ForwardPlan): void {
    const { req, res, body } = exchange;
    const target = this.#target(plan.backend.origin);
    const agent = this.agentFor(plan.backend);
    const chunkedBody = req.headers['transfer-encoding'] !== undefined;
    const buffer = body !== undefined ? new WholeBody(body) : bodyless(req) ? noBody : undefined;
    const own = plan.upstream;
    const timeouts = own === undefined ? this.#timeouts : { request: own.requestTimeout ?? this.#timeouts.request, client: own.clientTimeout ?? this.#timeouts.client };
    const flight = new Flight(plan, timeouts, buffer === undefined && !req.readableEnded);
    (res as Tagged)[flightKey] = flight;
    if (buffer === undefined) {
      // The pipe into the upstream request pauses `req` while the upstream is not taking bytes.
      req.on('pause', () => flight.uploadBlocked(true));
      req.on('resume', () => flight.uploadBlocked(false));
      req.once('end', () => flight.uploadEnded());
    }
    const options: AttemptOptions = buffer === undefined ? { target, agent, method: plan.method, chunkedBody } : { target, agent, method: plan.method, buffer };
    this.#send(exchange, flight, options);
  }

  /** Sends one attempt of the request through http-proxy-3. */
  #send(exchange: NodeExchange, flight: Flight, options: AttemptOptions): void {
    const { req, res } = exchange;
    const attempt = ++flight.attempts;
    if (options.target.protocol === 'binding:') {
      // A Worker's service binding exists only in a Worker's env: the attempt fails as a backend
      // that cannot be reached would (502, and a retry may pick another backend).
      const error = new TransportError(noBindingCode, `${flight.plan.backend.origin} is a service-binding backend, which only the fetch transport (on Workers) can reach`);
      queueMicrotask(() => this.#failed(exchange, flight, options, error as NodeJS.ErrnoException));
      return;
    }
    // http-proxy-3 reads the outgoing path from req.url synchronously inside web(); the client's
    // URL is put back right after, for the host framework's logging and error handlers.
    const url = req.url;
    req.url = flight.plan.uri;
    try {
      this.#proxy.web(req, res, options as never, (error) => {
        // http-proxy-3 leaves each attempt's error listener on the client's request: one that
        // was replayed no longer answers for it.
        if (attempt === flight.attempts) this.#failed(exchange, flight, options, error as NodeJS.ErrnoException);
      });
    } finally {
      req.url = url;
    }
  }

  /**
   * Destroys the pooled connections, busy ones included: call it once the server has stopped
   * taking requests and in-flight ones have ended (e.g. in `server.close()`'s callback).
   */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    for (const agent of this.#own.values()) agent.destroy();
  }

  /**
   * The connection pool of a backend: the shared one of its scheme, or a pool of its own for a
   * backend with TLS settings or a Unix socket, so that its connections are never handed to
   * another backend (Node's agents merge their own options over each request's).
   */
  agentFor(backend: Backend): HttpAgent | HttpsAgent {
    if (backend.tls === undefined && backend.socketPath === undefined) return backend.origin.startsWith('https:') ? this.httpsAgent : this.httpAgent;
    let agent = this.#own.get(backend);
    if (agent === undefined) {
      const socket = backend.socketPath === undefined ? {} : { socketPath: backend.socketPath };
      if (backend.origin.startsWith('https:')) {
        const { ca, cert, key, passphrase, servername, rejectUnauthorized } = backend.tls ?? {};
        const tls = { ca: ca as HttpsAgentOptions['ca'], cert, key, passphrase, servername, rejectUnauthorized };
        // Only the settings given: an undefined `rejectUnauthorized` would turn verification off.
        agent = new HttpsAgent({ ...this.#agentOptions, ...socket, ...Object.fromEntries(Object.entries(tls).filter(([, value]) => value !== undefined)) });
      } else {
        agent = new HttpAgent({ ...this.#agentOptions, ...socket });
      }
      this.#own.set(backend, agent);
    }
    return agent;
  }

  /** The pools made for backends with their own TLS settings or socket (for probes and tests). */
  get backendAgents(): readonly (HttpAgent | HttpsAgent)[] {
    return [...this.#own.values()];
  }

  /** Upstream connections now carrying a request and idle in the agents, over all backends (for probes and tests). */
  get connections(): { readonly busy: number; readonly idle: number } {
    let busy = 0;
    let idle = 0;
    for (const agent of [this.httpAgent, this.httpsAgent, ...this.#own.values()]) {
      for (const list of Object.values(agent.sockets)) busy += list?.length ?? 0;
      for (const list of Object.values(agent.freeSockets)) idle += list?.length ?? 0;
    }
    return { busy, idle };
  }

  #target(origin: string): Target {
    let target = this.#targets.get(origin);
    if (!target) {
      const url = new URL(origin);
      const port = url.port || (url.protocol === 'https:' ? '443' : '80');
      const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      target = { protocol: url.protocol, host: url.hostname, hostname, port };
      this.#targets.set(origin, target);
    }
    return target;
  }

  #respond(proxyRes: IncomingMessage, req: IncomingMessage, res: Tagged): void {
    const flight = res[flightKey];
    const plan = flight?.plan;
    if (res.headersSent || res.destroyed) {
      proxyRes.destroy();
      return;
    }
    const status = proxyRes.statusCode ?? 502;
    const headers = cleanResponseHeaders(proxyRes.headers);
    const transforms = plan?.intercepts ? plan.respond(status, new NodeResponseHeaders(headers)) : undefined;
    res.writeHead(status, proxyRes.statusMessage, headers);
    if (transforms !== undefined) {
      pipeTransformed({ proxyRes, req, res, status, transforms, flight: flight! });
      return;
    }
    // pipe() and two listeners, not stream.pipeline(): pipeline's end-of-stream machinery (an
    // AbortController and a DOMException per request among it) cost a quarter of the gateway's
    // overhead over bare http-proxy-3 in the benchmark.
    proxyRes.pipe(res);
    // The pipe pauses proxyRes while `res` is backpressured: the client is then the slow side.
    if (flight !== undefined) proxyRes.on('pause', () => flight.downloadPaused(proxyRes));
    settleOnEnd({ proxyRes, req, res, status, plan });
  }

  #failed(exchange: NodeExchange, flight: Flight, options: AttemptOptions, error: NodeJS.ErrnoException): void {
    const { req, res } = exchange;
    const failure: AttemptFailure = {
      error,
      stale: metStaleConnection(flight, error),
      // Sent again only with a body in memory (or none), and only for a client still there.
      replayable: options.buffer !== undefined && !res.destroyed && !req.socket.destroyed,
      started: res.headersSent,
    };
    const decision = flight.plan.failed(failure);
    if (decision.next === 'replay') {
      // `agent: false` opens a connection outside the pool (with `Connection: close`), so that the
      // replay cannot draw another pooled socket that went stale in the same way.
      this.#send(exchange, flight, { ...options, agent: false });
      return;
    }
    if (decision.next === 'retry') {
      // A new attempt, maybe to another backend, on the pool as the first one was.
      const backend = flight.plan.backend;
      this.#send(exchange, flight, { ...options, target: this.#target(backend.origin), agent: this.agentFor(backend) });
      return;
    }
    endFailed(exchange, decision);
  }
}
