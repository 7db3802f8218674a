import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '@apigate/core';
import { nodeHandler, peerAddress, renderClientErrors, type NodeRequest, type NodeTransportLike, type UndiciTransport } from '@apigate/proxy/node';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { MiddlewareHandler } from 'hono';
import { honoGateway as fetchGateway, parsedBodyOf, type ClientIpOf, type HonoGatewayOptions } from '../index.ts';

export interface NodeHonoGatewayOptions<TTransport extends NodeTransportLike = UndiciTransport> extends Omit<HonoGatewayOptions, 'transport' | 'env'> {
  /**
   * A Node transport to share between mounts (UndiciTransport, or NodeTransport on http-proxy-3,
   * the reference); by default an UndiciTransport is made from the gateway's upstream config.
   */
  transport?: TTransport;
  /**
   * What middleware see as `ctx.platform.env`; an empty object by default. Never `c.env`, which on
   * @hono/node-server holds the Node request and response.
   */
  env?: object;
}

type NodeBindings = { incoming?: IncomingMessage; outgoing?: ServerResponse };

/** The peer address of the Node request, for requests that go by fetch after all. */
const nodePeer: ClientIpOf = (c) => {
  const incoming = (c.env as NodeBindings | undefined)?.incoming;
  return incoming === undefined ? undefined : peerAddress(incoming);
};

/**
 * RESPONSE_ALREADY_SENT for a HEAD request. Hono answers HEAD by running the GET handlers and
 * wrapping their response in `new Response(null, response)`. With @hono/node-server's global
 * Response, a wrapper made from a plain response is a cached one, which it writes without looking
 * at `x-hono-already-sent`, over the bridge's response; a wrapper made from a response that was
 * already turned into a real one (reading `body` does that) is real too, and its writer honours
 * the header. With the platform's own Response (`overrideGlobalObjects: false`) the copy is a
 * plain native response, which it honours as well. test/node.test.ts fails if this changes.
 */
const alreadySentThroughHead = (): Response => {
  const response = new Response(null, RESPONSE_ALREADY_SENT);
  void response.body;
  return response;
};

const symbolNamed = (value: object, name: string): boolean => Object.getOwnPropertySymbols(value).some((symbol) => symbol.description === name);

/**
 * Whether something besides the gateway read, or may already be reading, the Node request's body:
 * its stream ended or flows, or @hono/node-server's lightweight Request was replaced or made a
 * real Request (its `requestCache`), whose body stream pulls from the Node request once it exists.
 * The symbols are @hono/node-server internals; test/node.test.ts fails if they change.
 */
const tapped = (raw: Request, incoming: IncomingMessage): boolean => {
  if (incoming.readableEnded || incoming.readableFlowing === true || incoming.readableDidRead) return true;
  if (raw.method === 'GET' || raw.method === 'HEAD') return false;
  return !symbolNamed(raw, 'incomingKey') || symbolNamed(raw, 'requestCache');
};

/**
 * Hono middleware for @hono/node-server: gateway routes are served from the raw Node request and
 * response (`c.env.incoming`/`outgoing`) by the Node transport, with no Web Request or Response
 * made for them. Without those bindings (e.g. `app.request()` in a test), or when an earlier handler
 * made a Web Request that reads the body (hono/body-limit), it uses the fetch transport.
 * @example
 * const app = new Hono<{ Bindings: HttpBindings }>()
 * app.use(honoGateway(gateway))
 * serve({ fetch: app.fetch, port: 8080 })
 */
export function honoGateway<TTransport extends NodeTransportLike = UndiciTransport>(
  gateway: Gateway,
  options?: NodeHonoGatewayOptions<TTransport>,
): MiddlewareHandler & { readonly transport: TTransport };
export function honoGateway(gateway: Gateway, options?: NodeHonoGatewayOptions): MiddlewareHandler & { readonly transport: UndiciTransport };
export function honoGateway(gateway: Gateway, { transport, env, ...options }: NodeHonoGatewayOptions<NodeTransportLike> = {}): MiddlewareHandler & { readonly transport: NodeTransportLike } {
  const handler = nodeHandler<NodeTransportLike>(gateway, transport, { env });
  const fallbackEnv = env ?? {};
  const fallback = fetchGateway(gateway, { ...options, clientIp: options.clientIp ?? nodePeer, env: () => fallbackEnv });
  const middleware: MiddlewareHandler = async function apigate(c, next) {
    const { incoming, outgoing } = (c.env ?? {}) as NodeBindings;
    if (incoming === undefined || outgoing === undefined) return fallback(c, next);
    const req = incoming as NodeRequest;
    if (c.req.raw.bodyUsed) {
      if (req.body === undefined) req.body = (await parsedBodyOf(c))?.value;
    } else if (req.body === undefined && tapped(c.req.raw, req)) {
      // An earlier handler made a Web Request whose body stream reads the Node request (hono/body-limit
      // looks at c.req.raw.body, and may replace c.req.raw): bytes it took are only in that stream, so
      // the body goes upstream from c.req.raw, by fetch.
      return fallback(c, next);
    }
    let passed = false;
    handler(req, outgoing, () => {
      passed = true;
    });
    if (passed) return next();
    // The bridge writes the response on `outgoing` itself; @hono/node-server must not.
    return incoming.method === 'HEAD' ? alreadySentThroughHead() : RESPONSE_ALREADY_SENT;
  };
  return Object.assign(middleware, { transport: handler.transport as NodeTransportLike });
}

export { renderClientErrors };
