import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Gateway, Plan, RequestIO, RuntimePlatform, Transport } from '@apigate/core';
import { GatewayError, toGatewayError, type GatewayResponse } from '@apigate/errors';
import { outgoingBody, transferCodingRefusal, type BodyState } from '@apigate/core/exchange';
import { cleanRequestHeaders, dropClientHopByHop, peerAddress, trustMatcher } from './hygiene.ts';
import { NodeBodySource } from './body.ts';
import { NodeRequestHeaders } from './request-headers.ts';
import type { NodeExchange } from './transport.ts';
import { UndiciTransport } from './undici-transport.ts';

/** A request as the Node adapters see it: Express and Koa both hand over `req.body` if parsed. */
export type NodeRequest = IncomingMessage & { body?: unknown };

/**
 * What the Node bridge forwards through: UndiciTransport (undici's dispatcher, the default),
 * NodeTransport (http-proxy-3, the reference, where WebSocket upgrades will come), or one's own.
 */
export interface NodeTransportLike extends Transport<NodeExchange> {
  /** Destroys the transport's connection pools. */
  close(): void;
  /** Upstream connections now carrying a request and idle in the pools, over all backends (for probes and tests). */
  readonly connections: { readonly busy: number; readonly idle: number };
}

/** Connect-style middleware: calls `next()` for requests that are not gateway routes. */
export type NodeHandler<TTransport extends NodeTransportLike = UndiciTransport> = ((req: NodeRequest, res: ServerResponse, next: (error?: unknown) => void) => void) & {
  /** The transport, to close its connection pools on shutdown. */
  readonly transport: TTransport;
};

export interface NodeHandlerOptions {
  /**
   * What middleware see as `ctx.platform.env` (a Worker's bindings on Workers); an empty object
   * by default. Node has no bindings: pass the configuration middleware read there, never the
   * whole `process.env` unless that is meant.
   */
  readonly env?: object | undefined;
}

/** Writes a gateway-made response (a rendered error or a hook's own response). */
export const sendResponse = (req: IncomingMessage, res: ServerResponse, response: GatewayResponse, close = false): void => {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = response.body === null ? undefined : typeof response.body === 'string' ? Buffer.from(response.body) : response.body;
  const headers = { ...response.headers } as OutgoingHttpHeaders;
  // A request body left unread (refused over its limit) is not drained: the connection closes.
  if (close) headers.connection = 'close';
  if (response.status !== 204 && response.status !== 304) headers['content-length'] = body?.byteLength ?? 0;
  res.writeHead(response.status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
};

/** Bodies up to this size that a refused request leaves unread are drained to keep the connection. */
const drainLimit = 64 * 1024;

/**
 * A refused request whose body is unread and large (or of unknown size) gets its connection
 * closed: Node would otherwise read and discard all of it to reuse the connection.
 */
const largeUnreadBody = (req: IncomingMessage): boolean => {
  if (req.readableEnded) return false;
  const declared = req.headers['content-length'];
  return declared === undefined ? req.headers['transfer-encoding'] !== undefined : Number(declared) > drainLimit;
};

/**
 * The request's I/O for the gateway: headers view, peer address, and the body made on demand; and
 * what the exchange decides the outgoing body from. Nothing is allocated that a request does not use.
 */
class NodeIO implements RequestIO, BodyState {
  readonly clientIp: string | undefined;
  readonly platform: RuntimePlatform | undefined;
  readonly #req: NodeRequest;
  #headers: NodeRequestHeaders | undefined;
  source: NodeBodySource | undefined;

  constructor(req: NodeRequest, platform: RuntimePlatform | undefined) {
    this.#req = req;
    this.clientIp = peerAddress(req);
    this.platform = platform;
  }

  get headers(): NodeRequestHeaders {
    return (this.#headers ??= new NodeRequestHeaders(this.#req.headers));
  }

  get body(): NodeBodySource {
    return (this.source ??= new NodeBodySource(this.#req));
  }

  get read(): Uint8Array | undefined {
    return this.source?.bytes;
  }

  get consumed(): { readonly value: unknown } | undefined {
    return this.#req.readableEnded ? { value: this.#req.body } : undefined;
  }
}

/**
 * Serves a gateway from Node's `(req, res, next)`: the one bridge that the Express and Koa
 * adapters share. Passthrough routes never leave the raw request and response streams.
 */
export function nodeHandler<TTransport extends NodeTransportLike = UndiciTransport>(gateway: Gateway, transport?: TTransport, options?: NodeHandlerOptions): NodeHandler<TTransport>;
export function nodeHandler(gateway: Gateway, transport?: NodeTransportLike, { env }: NodeHandlerOptions = {}): NodeHandler<NodeTransportLike> {
  // No waitUntil on Node: the gateway keeps that work and close() drains it.
  const platform: RuntimePlatform | undefined = env === undefined ? undefined : { env };
  const isTrusted = trustMatcher(gateway.upstream.trustedProxies);
  const fail = (req: IncomingMessage, res: ServerResponse, error: GatewayError): void => {
    const path = req.url ?? '/';
    const q = path.indexOf('?');
    sendResponse(req, res, gateway.render(error, req.method ?? 'GET', q === -1 ? path : path.slice(0, q)));
  };
  let upstream: NodeTransportLike | undefined = transport;
  if (upstream === undefined) {
    // A transport made here is the gateway's: gateway.close() closes its pools.
    upstream = new UndiciTransport(gateway.upstream);
    gateway.own(upstream);
  }
  const forwarder = upstream;

  const execute = (req: NodeRequest, res: ServerResponse, plan: Plan, io: NodeIO): void => {
    if (plan.kind === 'respond') {
      sendResponse(req, res, plan.response, io.source?.cut === true || largeUnreadBody(req));
      return;
    }
    if (res.destroyed || req.socket.destroyed) {
      // The client left while hooks (or an earlier async middleware) ran: forwarding now would
      // hold an upstream socket until requestTimeout for a response nobody reads.
      plan.settle({ error: new GatewayError('client_closed', { details: { reason: 'the client closed the connection before the request was forwarded' } }) });
      return;
    }
    const outgoing = outgoingBody(plan, io);
    if (outgoing instanceof GatewayError) {
      sendResponse(req, res, plan.refuse(outgoing));
      return;
    }
    const body = outgoing.kind === 'bytes' ? outgoing.bytes : undefined;
    cleanRequestHeaders(req, io.clientIp, isTrusted(io.clientIp));
    // An upstream failure the client is told of goes through the route's response phases.
    const exchange: NodeExchange = { req, res, body, fail: plan.intercepts ? (q, s, error) => sendResponse(q, s, plan.render(error)) : fail };
    try {
      forwarder.forward(exchange, plan);
    } catch (error) {
      // e.g. a hook set a header value Node refuses to send: answer, never crash.
      const failure = new GatewayError('internal', { details: { reason: 'the upstream request could not be created' }, cause: error });
      sendResponse(req, res, plan.refuse(failure));
    }
  };

  const handler = function apigate(req: NodeRequest, res: ServerResponse, next: (error?: unknown) => void): void {
    const match = gateway.match(req.method ?? 'GET', req.url ?? '/');
    if (match === undefined) {
      next();
      return;
    }
    const refused = transferCodingRefusal(req.headers['transfer-encoding']);
    if (refused !== undefined) {
      // The body is left unread: the connection closes after the answer.
      sendResponse(req, res, gateway.render(refused, match.method, match.path), true);
      return;
    }
    dropClientHopByHop(req.headers);
    const io = new NodeIO(req, platform);
    let plan: Plan | Promise<Plan>;
    try {
      plan = gateway.handle(match, io);
    } catch (error) {
      fail(req, res, toGatewayError(error));
      return;
    }
    if (plan instanceof Promise) {
      plan
        .then((settled) => execute(req, res, settled, io))
        // Whatever goes wrong after the pipeline still answers the client (or aborts a started response).
        .catch((error: unknown) => fail(req, res, toGatewayError(error)));
    } else {
      execute(req, res, plan, io);
    }
  };
  return Object.assign(handler, { transport: upstream });
}
