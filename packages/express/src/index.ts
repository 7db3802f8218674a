import { isMiddleware, runHook, runStandaloneResponse, runStandaloneSettle, type Gateway, type Hook, type Middleware as GatewayMiddleware } from '@apigate/core';
import type { RendererOption } from '@apigate/errors';
import { nodeHandler, renderClientErrors, sendResponse, standaloneRequest, watchResponse, type NodeHandler, type NodeTransportLike, type UndiciTransport } from '@apigate/proxy/node';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';

export interface ExpressGatewayOptions<TTransport extends NodeTransportLike = UndiciTransport> {
  /**
   * A transport to share between mounts (UndiciTransport, or NodeTransport on http-proxy-3, the
   * reference); by default an UndiciTransport is made from the gateway's upstream config.
   */
  transport?: TTransport;
  /**
   * What middleware see as `ctx.platform.env` (a Worker's bindings on Workers); an empty object
   * by default. Node has no bindings: pass the configuration the middleware read there.
   */
  env?: object;
}

/**
 * Express middleware serving the gateway's routes beside the app's own: requests that match no
 * gateway route go on to the next handler untouched.
 * @example
 * const app = express()
 * app.use(express.json())
 * app.use(expressGateway(gateway))
 * app.get('/health', (_req, res) => res.send('ok'))
 */
export function expressGateway<TTransport extends NodeTransportLike = UndiciTransport>(
  gateway: Gateway,
  options?: ExpressGatewayOptions<TTransport>,
): RequestHandler & Pick<NodeHandler<TTransport>, 'transport'>;
export function expressGateway(gateway: Gateway, options?: ExpressGatewayOptions): RequestHandler & Pick<NodeHandler, 'transport'>;
export function expressGateway(gateway: Gateway, { transport, env }: ExpressGatewayOptions<NodeTransportLike> = {}): RequestHandler & Pick<NodeHandler<NodeTransportLike>, 'transport'> {
  return nodeHandler<NodeTransportLike>(gateway, transport, { env }) as unknown as RequestHandler & Pick<NodeHandler<NodeTransportLike>, 'transport'>;
}

/** A Node request listener: what `http.createServer()` takes, and what an Express app is. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The Express fast lane: a request listener that serves gateway routes before Express sees the
 * request, and hands every other request to the app. Gateway routes then skip Express entirely —
 * its request/response setup, its router and any app middleware (body parsers, CORS, logging,
 * error handlers) — while the gateway's own hooks, validation and policies still run. What that
 * saves per proxied request is measured in docs/benchmarks.md.
 * @example http.createServer(expressFastLane(app, gateway)).listen(8080)
 */
export function expressFastLane<TTransport extends NodeTransportLike = UndiciTransport>(
  app: RequestListener,
  gateway: Gateway,
  options?: ExpressGatewayOptions<TTransport>,
): RequestListener & Pick<NodeHandler<TTransport>, 'transport'>;
export function expressFastLane(app: RequestListener, gateway: Gateway, options?: ExpressGatewayOptions): RequestListener & Pick<NodeHandler, 'transport'>;
export function expressFastLane(app: RequestListener, gateway: Gateway, { transport, env }: ExpressGatewayOptions<NodeTransportLike> = {}): RequestListener & Pick<NodeHandler<NodeTransportLike>, 'transport'> {
  const handler = nodeHandler<NodeTransportLike>(gateway, transport, { env });
  const listener: RequestListener = (req, res) => handler(req, res, () => app(req, res));
  return Object.assign(listener, { transport: handler.transport as NodeTransportLike });
}

export interface ExpressMiddlewareOptions {
  /** How a GatewayError the hook raises is rendered; text by default. */
  renderer?: RendererOption;
  /** `context.state` for the hook. */
  state?: object;
  /** `context.platform.env`; an empty object by default. waitUntil work runs unattended (no gateway drains it). */
  env?: object;
}

/**
 * A gateway hook, or a whole middleware, as plain Express middleware on the app's own routes,
 * without a gateway: the hook (or the middleware's request phase) goes on or answers; a
 * middleware's response phase runs on whatever response the app writes, just before its head,
 * and its settle phase when that response ended. Scope values live in `res.locals`.
 * @example app.use(expressMiddleware(requireApiKey))
 */
export const expressMiddleware = (hook: Hook | GatewayMiddleware, { renderer, state, env }: ExpressMiddlewareOptions = {}): RequestHandler => {
  const middleware: GatewayMiddleware = isMiddleware(hook) ? hook : { name: hook.name || 'hook', request: hook };
  const request = middleware.request as Hook | undefined;
  const platform = env === undefined ? undefined : { env };
  return function apigateMiddleware(req, res, next) {
    const standalone = { ...standaloneRequest(req, res.locals as Record<PropertyKey, unknown>, state), platform };
    if (middleware.response !== undefined || middleware.settle !== undefined) {
      const started = performance.now();
      watchResponse(res, {
        head: middleware.response && ((status, headers) => runStandaloneResponse(middleware, standalone, { status, headers })),
        end: middleware.settle && ((status) => runStandaloneSettle(middleware, standalone, { status, durationMs: performance.now() - started })),
      });
    }
    if (request === undefined) {
      next();
      return;
    }
    runHook(request, standalone, renderer).then((result) => {
      if (result.next) next();
      else sendResponse(req, res, result.response);
    }, next);
  };
};

export { renderClientErrors };
