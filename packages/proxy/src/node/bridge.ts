import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ForwardPlan, Gateway, Plan, RequestIO, RuntimePlatform } from '@apigate/core';
import { GatewayError, toGatewayError, type GatewayResponse } from '@apigate/errors';
import { serializeParsedBody } from '../parsed-body.ts';
import { transferCodingRefusal } from '../headers.ts';
import { cleanRequestHeaders, dropClientHopByHop, peerAddress, trustMatcher } from './hygiene.ts';
import { NodeBodySource } from './body.ts';
import { NodeRequestHeaders } from './request-headers.ts';
import { NodeTransport, type NodeExchange } from './transport.ts';

/** A request as the Node adapters see it: Express and Koa both hand over `req.body` if parsed. */
export type NodeRequest = IncomingMessage & { body?: unknown };

/** Connect-style middleware: calls `next()` for requests that are not gateway routes. */
export type NodeHandler = ((req: NodeRequest, res: ServerResponse, next: (error?: unknown) => void) => void) & {
  /** The transport, to close its connection pools on shutdown. */
  readonly transport: NodeTransport;
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

/**
 * The request body bytes when the host framework already consumed the stream (a body parser ran
 * before the gateway); undefined when the stream is still unread and can be piped.
 */
const consumedBody = (req: NodeRequest, plan: ForwardPlan, io: NodeIO): Uint8Array | undefined | GatewayError => {
  if (plan.body !== undefined) {
    // A validated or mapped body replaces the client's.
    delete req.headers['transfer-encoding'];
    delete req.headers['content-encoding'];
    req.headers['content-type'] = plan.contentType;
    req.headers['content-length'] = String(plan.body.byteLength);
    return plan.body;
  }
  const read = io.source?.bytes;
  if (read !== undefined) {
    // The route read the body to check it: the same bytes go on.
    delete req.headers['transfer-encoding'];
    req.headers['content-length'] = String(read.byteLength);
    return read;
  }
  if (!req.readableEnded) return undefined;
  // body-parser turns an empty JSON body into `{}`: what the client declared empty stays empty.
  if (req.headers['content-length'] === '0' && req.headers['transfer-encoding'] === undefined) return new Uint8Array(0);
  let bytes: Uint8Array | undefined;
  try {
    bytes = serializeParsedBody(req.body, req.headers['content-type']);
  } catch (cause) {
    // A parser in front accepted JSON nested deeper than JSON.stringify can recurse: the client's fault.
    if (cause instanceof RangeError) return new GatewayError('invalid_json', { message: 'The request body is nested too deeply to forward.', cause });
    return new GatewayError('internal', { details: { reason: 'the parsed request body could not be re-serialized' }, cause });
  }
  if (bytes === undefined) {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > 0 || req.headers['transfer-encoding'] !== undefined) {
      return new GatewayError('internal', { details: { reason: 'the request body was read by another middleware and not kept in req.body' } });
    }
    return new Uint8Array(0);
  }
  delete req.headers['transfer-encoding'];
  delete req.headers['content-encoding'];
  req.headers['content-length'] = String(bytes.byteLength);
  return bytes;
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

/** The request's I/O for the gateway: headers view, peer address, and the body made on demand. */
class NodeIO implements RequestIO {
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
}

/**
 * Serves a gateway from Node's `(req, res, next)`: the one bridge that the Express and Koa
 * adapters share. Passthrough routes never leave the raw request and response streams.
 */
export const nodeHandler = (gateway: Gateway, transport?: NodeTransport, { env }: NodeHandlerOptions = {}): NodeHandler => {
  // No waitUntil on Node: the gateway keeps that work and close() drains it.
  const platform: RuntimePlatform | undefined = env === undefined ? undefined : { env };
  const isTrusted = trustMatcher(gateway.upstream.trustedProxies);
  const fail = (req: IncomingMessage, res: ServerResponse, error: GatewayError): void => {
    const path = req.url ?? '/';
    const q = path.indexOf('?');
    sendResponse(req, res, gateway.render(error, req.method ?? 'GET', q === -1 ? path : path.slice(0, q)));
  };
  const upstream = transport ?? new NodeTransport(gateway.upstream);

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
    const body = consumedBody(req, plan, io);
    if (body instanceof GatewayError) {
      plan.settle({ error: body });
      sendResponse(req, res, plan.render(body));
      return;
    }
    cleanRequestHeaders(req, io.clientIp, isTrusted(io.clientIp));
    // An upstream failure the client is told of goes through the route's response phases.
    const exchange: NodeExchange = { req, res, body, fail: plan.intercepts ? (q, s, error) => sendResponse(q, s, plan.render(error)) : fail };
    try {
      upstream.forward(exchange, plan);
    } catch (error) {
      // e.g. a hook set a header value Node refuses to send: answer, never crash.
      const failure = new GatewayError('internal', { details: { reason: 'the upstream request could not be created' }, cause: error });
      plan.settle({ error: failure });
      sendResponse(req, res, plan.render(failure));
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
};
