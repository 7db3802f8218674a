import { runHook, type Gateway, type Hook } from '@apigate/core';
import type { RendererOption } from '@apigate/errors';
import { nodeHandler, renderClientErrors, sendResponse, standaloneRequest, type NodeHandler, type NodeTransport } from '@apigate/proxy/node';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';

export interface ExpressGatewayOptions {
  /** A transport to share between mounts; by default one is made from the gateway's upstream config. */
  transport?: NodeTransport;
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
export const expressGateway = (gateway: Gateway, { transport }: ExpressGatewayOptions = {}): RequestHandler & Pick<NodeHandler, 'transport'> =>
  nodeHandler(gateway, transport) as unknown as RequestHandler & Pick<NodeHandler, 'transport'>;

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
export const expressFastLane = (app: RequestListener, gateway: Gateway, { transport }: ExpressGatewayOptions = {}): RequestListener & Pick<NodeHandler, 'transport'> => {
  const handler = nodeHandler(gateway, transport);
  const listener: RequestListener = (req, res) => handler(req, res, () => app(req, res));
  return Object.assign(listener, { transport: handler.transport });
};

export interface ExpressMiddlewareOptions {
  /** How a GatewayError the hook raises is rendered; text by default. */
  renderer?: RendererOption;
  /** `context.state` for the hook. */
  state?: object;
}

/**
 * One gateway hook (the neutral middleware contract) as plain Express middleware, without a
 * gateway: it goes on, or answers. Scope values live in `res.locals`.
 * @example app.use(expressMiddleware(requireApiKey))
 */
export const expressMiddleware = (hook: Hook, { renderer, state }: ExpressMiddlewareOptions = {}): RequestHandler =>
  function apigateHook(req, res, next) {
    runHook(hook, standaloneRequest(req, res.locals as Record<PropertyKey, unknown>, state), renderer).then((result) => {
      if (result.next) next();
      else sendResponse(req, res, result.response);
    }, next);
  };

export { renderClientErrors };
