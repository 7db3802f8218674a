import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex, Readable } from 'node:stream';
import type { Backend, ForwardPlan, ResponseTransforms, Transport, UpstreamConfig } from '@apigate/core';
import { upstreamDefaults } from '@apigate/core';
import { clientGoneCode, clientTimeoutCode, noBindingCode, TransportError, upstreamTimeoutCode, type AttemptFailure } from '@apigate/core/exchange';
import { buildConnector, Client, Pool, type Dispatcher } from 'undici';
import { cleanResponseHeaders } from './hygiene.ts';
import { NodeResponseHeaders } from './response-headers.ts';
import { clientClosed, endFailed, type NodeExchange } from './transport.ts';

/**
 * Request headers undici refuses (it frames the request itself). The bridge's hygiene has dropped
 * them all but a streamed body's `Transfer-Encoding: chunked`; undici sends a body of unknown
 * length chunked on its own.
 */
const refused = new Set(['connection', 'keep-alive', 'upgrade', 'transfer-encoding', 'expect', 'proxy-connection']);

/** `req.headers` as undici takes them: what it refuses out, and Host only when it is preserved. */
const upstreamHeaders = (headers: IncomingHttpHeaders, preserveHost: boolean): IncomingHttpHeaders => {
  const out: IncomingHttpHeaders = {};
  for (const name in headers) {
    if (refused.has(name) || (name === 'host' && !preserveHost)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
};

/** A request whose framing says it has no body (no Transfer-Encoding, no or zero Content-Length). */
const bodyless = (req: IncomingMessage): boolean => {
  const { headers } = req;
  return headers['transfer-encoding'] === undefined && (headers['content-length'] === undefined || headers['content-length'] === '0');
};

const readBefore = Symbol('apigate.bytesRead');
type Tagged = Error & { code?: string; socket?: { bytesRead?: number }; [readBefore]?: number };

/**
 * The client's request as undici's body: undici reads a stream through on/pause/resume, and
 * destroys it when the upload ends or fails. Destroying the client's request would destroy the
 * client's socket (an Express request is not an IncomingMessage to undici's check) before the
 * gateway could answer an upstream that failed mid-upload; here it only marks the upload over.
 */
class Upload {
  readonly #req: IncomingMessage;
  destroyed = false;
  /** undici reads the length of an ended stream and whether it destroys itself at end from this. */
  readonly _readableState = { objectMode: false, ended: false, length: 0, autoDestroy: true };

  constructor(req: IncomingMessage) {
    this.#req = req;
  }

  on(event: string, listener: (...args: unknown[]) => void): this {
    this.#req.on(event, listener);
    return this;
  }

  off(event: string, listener: (...args: unknown[]) => void): this {
    this.#req.off(event, listener);
    return this;
  }

  removeListener(event: string, listener: (...args: unknown[]) => void): this {
    return this.off(event, listener);
  }

  read(size?: number): unknown {
    return this.#req.read(size);
  }

  pause(): this {
    this.#req.pause();
    return this;
  }

  resume(): this {
    this.#req.resume();
    return this;
  }

  /** Only for undici's stream check: nothing pipes this. */
  pipe(): never {
    throw new Error('an upload is read by undici, not piped');
  }

  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

/** How a pooled connection the upstream had closed shows: a reset, a hang-up, undici's "other side closed". */
const staleCodes = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/** What the undici transport's pools are made with, from the gateway's upstream settings. */
interface PoolSettings {
  readonly connectTimeout: number;
  readonly idleTimeout: number;
  readonly noDelay: boolean;
  readonly connections: number | null;
}

interface Timeouts {
  readonly request: number;
  readonly client: number;
}

/** Keep-Alive hints shorten a pooled connection's life to N − 1 s, as on the Node agents. */
const keepAliveThreshold = 1_000;

/**
 * One forwarded request, and undici's handler of each of its attempts. Its timer measures the side
 * the gateway waits on (DESIGN.md rule 7), as NodeTransport's Flight does: the **client** while it
 * relays an upload the upstream takes as it comes (undici has not paused `req`) and while the client
 * reads the response slower than it comes (`res.write()` returned false, the dispatch is paused
 * until 'drain'); the **upstream** otherwise — taking upload bytes (undici paused `req`), the head
 * once the upload is in, the next response bytes while the client keeps up. The timer is refreshed
 * on every byte either way and changes its length only when the side changes.
 */
class Flight implements Dispatcher.DispatchHandler {
  readonly #transport: UndiciTransport;
  readonly #exchange: NodeExchange;
  readonly #plan: ForwardPlan;
  readonly #timeouts: Timeouts;
  readonly #preserveHost: boolean;
  readonly #body: Uint8Array | Upload | null;
  #attempts = 0;
  #controller: Dispatcher.DispatchController | undefined;
  /** A byte of this attempt's response arrived: the upstream read the request. */
  #answered = false;
  #status = 0;
  #gone = false;
  #timer: NodeJS.Timeout | undefined;
  #uploading: boolean;
  #uploadBlocked = false;
  #downloadBlocked = false;
  #onClient: boolean;
  /** The response's body source when it flows through transforms. */
  #source: Readable | undefined;
  #stages: Duplex[] | undefined;
  /** Set while dispatch() runs: undici reports a request it cannot create synchronously. */
  #creating = false;
  #invalid: Error | undefined;

  constructor(transport: UndiciTransport, exchange: NodeExchange, plan: ForwardPlan, timeouts: Timeouts, preserveHost: boolean) {
    this.#transport = transport;
    this.#exchange = exchange;
    this.#plan = plan;
    this.#timeouts = timeouts;
    this.#preserveHost = preserveHost;
    const { req, res, body } = exchange;
    this.#body = body !== undefined ? body : bodyless(req) ? null : new Upload(req);
    this.#uploading = this.#body instanceof Upload && !req.readableEnded;
    this.#onClient = this.#uploading;
    if (this.#uploading) {
      // undici pauses `req` while the upstream socket is full, and resumes it on 'drain'.
      req.on('pause', () => this.#uploadBlockedBy(true));
      req.on('resume', () => this.#uploadBlockedBy(false));
    }
    res.once('close', this.#closed);
  }

  /** Sends one attempt, on the backend's pool or on a connection of its own. */
  send(dispatcher: Dispatcher): void {
    this.#attempts++;
    this.#controller = undefined;
    this.#answered = false;
    if (this.#plan.backend.origin.startsWith('binding:')) {
      // A Worker's service binding exists only in a Worker's env: the attempt fails as a backend
      // that cannot be reached would (502, and a retry may pick another backend).
      const error = new TransportError(noBindingCode, `${this.#plan.backend.origin} is a service-binding backend, which only the fetch transport (on Workers) can reach`);
      queueMicrotask(() => this.#failed(error));
      return;
    }
    const body = this.#body instanceof Upload ? (this.#body as unknown as Readable) : this.#body;
    // Read for each attempt: a retry's upstream phase may have set headers (and picked another backend).
    const headers = upstreamHeaders(this.#exchange.req.headers, this.#preserveHost);
    const method = this.#plan.method as Dispatcher.HttpMethod;
    const options: Dispatcher.DispatchOptions = { path: this.#plan.uri, method, headers, body };
    // A replay's connection of its own closes after its one request. undici would close a pooled
    // one after every HEAD too (against servers that send a body with one); it goes back to the
    // pool as on Node's agent, since the response parser reads no body after a HEAD either way.
    if (dispatcher instanceof Client) options.reset = true;
    else if (method === 'HEAD') options.reset = false;
    this.#creating = true;
    try {
      dispatcher.dispatch(options, this);
    } finally {
      this.#creating = false;
    }
    if (this.#invalid !== undefined) {
      // e.g. a hook set a header value undici refuses: the bridge answers 500, as for NodeTransport.
      const invalid = this.#invalid;
      this.#invalid = undefined;
      throw invalid;
    }
  }

  get #timeout(): number {
    return this.#onClient ? this.#timeouts.client : this.#timeouts.request;
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    this.#controller?.abort(
      this.#onClient
        ? new TransportError(clientTimeoutCode, 'the client was silent for longer than clientTimeout')
        : new TransportError(upstreamTimeoutCode, 'the upstream was silent for longer than requestTimeout'),
    );
  };

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#expire, this.#timeout).unref();
  }

  #disarm(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #refresh(): void {
    this.#timer?.refresh();
  }

  #update(): void {
    const onClient = this.#downloadBlocked || (this.#uploading && !this.#uploadBlocked);
    if (onClient === this.#onClient) return;
    this.#onClient = onClient;
    if (this.#timer !== undefined) this.#arm();
  }

  #uploadBlockedBy(blocked: boolean): void {
    this.#uploadBlocked = blocked;
    this.#update();
  }

  #downloadBlockedBy(blocked: boolean): void {
    this.#downloadBlocked = blocked;
    this.#update();
  }

  /** The client's response drained: the upstream may send again. */
  readonly #drained = (): void => {
    if (this.#source !== undefined) return;
    this.#downloadBlockedBy(false);
    this.#controller?.resume();
  };

  /**
   * The client's response ended: complete (settled ok; an upload the upstream answered without
   * reading is drained from the client, as Node's server does), or cut because the client left
   * (settled client_closed, the upstream request aborted).
   */
  readonly #closed = (): void => {
    this.#disarm();
    const { req, res } = this.#exchange;
    if (res.writableFinished) {
      if (this.#status !== 0) this.#plan.settle({ status: this.#status });
      if (this.#body instanceof Upload && !req.readableEnded) req.resume();
      return;
    }
    this.#gone = true;
    this.#plan.settle({ error: clientClosed() });
    this.#controller?.abort(new TransportError(clientGoneCode, 'the client closed the connection'));
    this.#source?.destroy();
    for (const stage of this.#stages ?? []) stage.destroy();
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#gone) {
      // The client left while the connection was being made.
      controller.abort(new TransportError(clientGoneCode, 'the client closed the connection'));
      return;
    }
    this.#arm();
  }

  onBodySent(): void {
    this.#refresh();
  }

  onRequestSent(): void {
    this.#uploading = false;
    this.#refresh();
    this.#update();
  }

  onResponseStarted(): void {
    this.#answered = true;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.#refresh();
    const { res } = this.#exchange;
    if (statusCode < 200) {
      // Early Hints go on to the client; other interim responses are the gateway's hop only.
      if (statusCode === 103 && headers.link !== undefined && !res.headersSent) {
        const hints = cleanResponseHeaders(headers) as Record<string, string | string[]>;
        try {
          res.writeEarlyHints(hints);
        } catch {
          // A hint Node refuses to send is dropped: it is only a hint.
        }
      }
      return;
    }
    if (res.headersSent || res.destroyed) {
      controller.abort(new TransportError(clientGoneCode, 'the client response is no longer open'));
      return;
    }
    const cleaned = cleanResponseHeaders(headers);
    const transforms = this.#plan.intercepts ? this.#plan.respond(statusCode, new NodeResponseHeaders(cleaned)) : undefined;
    res.writeHead(statusCode, statusMessage ?? '', cleaned);
    this.#status = statusCode;
    if (transforms !== undefined) this.#pipeTransformed(controller, transforms);
    else res.on('drain', this.#drained);
  }

  /**
   * The body through the response phases' transforms (Web stream pairs as Node Duplexes) into the
   * client's response. Backpressure reaches back stage by stage to the source, whose full buffer
   * pauses the dispatch and hands the timer to the client; its reads resume it. A failed transform
   * settles `internal` and aborts the client connection (the head is out); the upstream is aborted.
   */
  #pipeTransformed(controller: Dispatcher.DispatchController, transforms: ResponseTransforms): void {
    const { res } = this.#exchange;
    const source = new Readable({
      read: () => {
        if (!this.#downloadBlocked) return;
        this.#downloadBlockedBy(false);
        this.#controller?.resume();
      },
    });
    // The DOM's and node:stream/web's declarations of the same Web streams differ in TypeScript only.
    const stages = transforms.streams.map((stream) => Duplex.fromWeb(stream as unknown as Parameters<typeof Duplex.fromWeb>[0]));
    this.#source = source;
    this.#stages = stages;
    let tail: Readable = source;
    for (const stage of stages) tail = tail.pipe(stage);
    tail.pipe(res);
    source.on('error', () => {
      // The upstream failed mid-body: #failed aborts the client connection.
    });
    for (const [index, stage] of stages.entries()) {
      stage.on('error', (error: unknown) => {
        // A response already cut (the client left, the upstream failed) has settled: this is its echo.
        if (!res.destroyed) this.#plan.settle({ error: transforms.failed(index, error) });
        res.destroy();
        controller.abort(new TransportError(clientGoneCode, 'a response transform failed'));
        for (const other of stages) other.destroy();
      });
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#refresh();
    const full = this.#source !== undefined ? !this.#source.push(chunk) : !this.#exchange.res.write(chunk);
    if (full) {
      // The client reads slower than the upstream sends: stop reading the upstream until it drains.
      controller.pause();
      this.#downloadBlockedBy(true);
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.#disarm();
    if (this.#source !== undefined) {
      this.#source.push(null);
      return;
    }
    const { res } = this.#exchange;
    // Trailers go on only on a chunked response (Node sends them nowhere else), hop-by-hop ones out.
    if (res.chunkedEncoding && Object.keys(trailers).length > 0) {
      try {
        res.addTrailers(cleanResponseHeaders(trailers) as OutgoingHttpHeaders as Record<string, string>);
      } catch {
        // A trailer Node refuses to send is dropped; the body is whole.
      }
    }
    res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#disarm();
    if (this.#creating && (error as Tagged).code === 'UND_ERR_INVALID_ARG') {
      this.#invalid = error;
      return;
    }
    this.#source?.destroy(error);
    this.#failed(error);
  }

  /**
   * Whether the attempt met a stale pooled connection (the keep-alive race, nodejs/node#47130): it
   * was reset or hung up before one byte of a response arrived, on a connection that had read
   * earlier responses (with one request at a time, those bytes can only be earlier responses').
   */
  #stale(error: Tagged): boolean {
    if (this.#answered || !staleCodes.has(error.code ?? '')) return false;
    const read = error.socket?.bytesRead ?? error[readBefore];
    return read !== undefined && read > 0;
  }

  #failed(error: Error): void {
    const { req, res } = this.#exchange;
    if (this.#gone) {
      // Settled as client_closed when the client left: the abort's echo.
      res.destroy();
      return;
    }
    const failure: AttemptFailure = {
      error,
      stale: this.#stale(error as Tagged),
      // Sent again only with a body in memory (or none), and only for a client still there.
      replayable: !(this.#body instanceof Upload) && !res.destroyed && !req.socket.destroyed,
      started: res.headersSent,
    };
    const decision = this.#plan.failed(failure);
    if (decision.next === 'replay') {
      // A connection of its own, closed after the response (`Connection: close`), so that the
      // replay cannot draw another pooled connection that went stale in the same way.
      this.#send(this.#transport.connectionFor(this.#plan.backend));
      return;
    }
    if (decision.next === 'retry') {
      // A new attempt, maybe to another backend, on its pool as the first one was.
      this.#send(this.#transport.poolFor(this.#plan.backend));
      return;
    }
    endFailed(this.#exchange, decision);
  }

  /** A replay or retry, whose failure to be created is the attempt's failure. */
  #send(dispatcher: Dispatcher): void {
    try {
      this.send(dispatcher);
    } catch (error) {
      this.#failed(error as Error);
    }
  }

  get attempts(): number {
    return this.#attempts;
  }
}

/** A socket's error, marked with how much it had read: undici's own socket errors carry it, Node's do not. */
const markRead = (socket: Socket) =>
  function markRead(error: Tagged): void {
    error[readBefore] ??= socket.bytesRead;
  };

/**
 * The Node adapters' default transport, on undici's dispatcher: a keep-alive `Pool` per backend,
 * each request dispatched with a handler that writes straight to the Node response. The same
 * exchange as NodeTransport, the reference (header hygiene, forwarding headers, both timeouts,
 * response phases and transforms, fault mapping, the stale-connection replay, retries), measured
 * faster on Node's HTTP path (docs/benchmarks.md); WebSocket upgrades stay with NodeTransport.
 * @example
 * // one transport shared by two mounts (an adapter given none makes its own):
 * const transport = new UndiciTransport(gateway.upstream)
 * app.use(expressGateway(gateway, { transport }))
 */
export class UndiciTransport implements Transport<NodeExchange> {
  readonly #settings: PoolSettings;
  readonly #timeouts: Timeouts;
  readonly #preserveHost: boolean;
  readonly #pools = new Map<string, Pool>();
  readonly #own = new Map<Backend, Pool>();
  readonly #replays = new Set<Client>();

  constructor(config: UpstreamConfig = {}) {
    const settings = { ...upstreamDefaults };
    for (const [name, value] of Object.entries(config)) if (value !== undefined) Object.assign(settings, { [name]: value });
    this.#settings = {
      connectTimeout: settings.connectTimeout,
      idleTimeout: settings.idleTimeout,
      noDelay: settings.noDelay,
      // undici's pools bound connections, not idle ones: beyond the bound, requests queue.
      connections: Number.isFinite(settings.maxIdleSockets) ? settings.maxIdleSockets : null,
    };
    this.#timeouts = { request: settings.requestTimeout, client: settings.clientTimeout };
    this.#preserveHost = settings.preserveHost;
  }

  forward(exchange: NodeExchange, plan: ForwardPlan): void {
    const own = plan.upstream;
    const timeouts = own === undefined ? this.#timeouts : { request: own.requestTimeout ?? this.#timeouts.request, client: own.clientTimeout ?? this.#timeouts.client };
    const flight = new Flight(this, exchange, plan, timeouts, this.#preserveHost);
    flight.send(this.poolFor(plan.backend));
  }

  /**
   * The pool of a backend: one per origin, or one of its own for a backend with TLS settings or a
   * Unix socket, so that its connections are never handed to another backend.
   */
  poolFor(backend: Backend): Pool {
    const shared = backend.tls === undefined && backend.socketPath === undefined;
    let pool = shared ? this.#pools.get(backend.origin) : this.#own.get(backend);
    if (pool === undefined) {
      pool = new Pool(this.#origin(backend), this.#options(backend, this.#settings.connections));
      if (shared) this.#pools.set(backend.origin, pool);
      else this.#own.set(backend, pool);
    }
    return pool;
  }

  /** A connection of its own to the backend, for one request (the replay), closed after it. */
  connectionFor(backend: Backend): Client {
    const client = new Client(this.#origin(backend), this.#options(backend, null));
    this.#replays.add(client);
    // close() waits for the request dispatched next, then closes the connection.
    queueMicrotask(() => void client.close().finally(() => this.#replays.delete(client)));
    return client;
  }

  /** The pools made for backends with their own TLS settings or socket (for probes and tests). */
  get backendPools(): readonly Pool[] {
    return [...this.#own.values()];
  }

  /** Upstream connections now carrying a request and idle in the pools, over all backends (for probes and tests). */
  get connections(): { readonly busy: number; readonly idle: number } {
    let busy = 0;
    let idle = 0;
    for (const pool of [...this.#pools.values(), ...this.#own.values()]) {
      const { connected, free } = pool.stats;
      busy += connected - free;
      idle += free;
    }
    return { busy, idle };
  }

  /**
   * Destroys the pooled connections, busy ones included: call it once the server has stopped
   * taking requests and in-flight ones have ended (e.g. in `server.close()`'s callback).
   */
  close(): void {
    for (const pool of [...this.#pools.values(), ...this.#own.values(), ...this.#replays]) void pool.destroy().catch(() => undefined);
    this.#pools.clear();
    this.#own.clear();
    this.#replays.clear();
  }

  #origin(backend: Backend): string {
    // A binding: backend never connects (the attempt fails first); undici only needs a URL it parses.
    return backend.origin.startsWith('binding:') ? 'http://binding.invalid' : backend.origin;
  }

  #options(backend: Backend, connections: number | null): Pool.Options {
    const { connectTimeout, idleTimeout, noDelay } = this.#settings;
    const tls = backend.tls === undefined ? {} : Object.fromEntries(Object.entries(backend.tls).filter(([, value]) => value !== undefined));
    const base = buildConnector({ timeout: connectTimeout, allowH2: false, ...(backend.socketPath === undefined ? {} : { socketPath: backend.socketPath }), ...tls } as buildConnector.BuildOptions);
    const connect: buildConnector.connector = (options, callback) =>
      base(options, (error, socket) => {
        if (socket) {
          if (!noDelay) (socket as Socket).setNoDelay(false);
          // Before undici's own listener: the reset of a pooled connection is told apart by it.
          socket.prependListener('error', markRead(socket as Socket));
        }
        callback(error as never, socket as never);
      });
    return {
      connect,
      connections,
      pipelining: 1,
      keepAliveTimeout: idleTimeout,
      keepAliveMaxTimeout: idleTimeout,
      keepAliveTimeoutThreshold: keepAliveThreshold,
      // The transport's own timer measures both sides; undici's would count a slow client as the upstream's.
      headersTimeout: 0,
      bodyTimeout: 0,
    };
  }
}
