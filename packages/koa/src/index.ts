import { isMiddleware, runHook, runStandaloneResponse, runStandaloneSettle, type Gateway, type Hook, type Middleware as GatewayMiddleware } from '@apigate/core';
import type { RendererOption } from '@apigate/errors';
import { nodeHandler, renderClientErrors, sendResponse, standaloneRequest, watchResponse, type NodeRequest, type NodeTransportLike, type UndiciTransport } from '@apigate/proxy/node';
import type { Middleware } from 'koa';

export interface KoaGatewayOptions<TTransport extends NodeTransportLike = UndiciTransport> {
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

type ParsedRequest = { body?: unknown; rawBody?: unknown };

/**
 * Koa middleware serving the gateway's routes beside the app's own (@koa/router routes, other
 * middleware): requests that match no gateway route go on with `next()`. A body that
 * koa-bodyparser or @koa/bodyparser read first is handed over, as its raw text when kept.
 * @example
 * const app = new Koa()
 * app.use(bodyParser())
 * app.use(koaGateway(gateway))
 * app.use(router.routes())
 */
export function koaGateway<TTransport extends NodeTransportLike = UndiciTransport>(gateway: Gateway, options?: KoaGatewayOptions<TTransport>): Middleware & { readonly transport: TTransport };
export function koaGateway(gateway: Gateway, options?: KoaGatewayOptions): Middleware & { readonly transport: UndiciTransport };
export function koaGateway(gateway: Gateway, { transport, env }: KoaGatewayOptions<NodeTransportLike> = {}): Middleware & { readonly transport: NodeTransportLike } {
  const handler = nodeHandler<NodeTransportLike>(gateway, transport, { env });
  const middleware: Middleware = function apigate(ctx, next) {
    const req = ctx.req as NodeRequest & { rawBody?: unknown };
    if (req.readableEnded) {
      const parsed = ctx.request as ParsedRequest;
      // The raw text wins over a parsed value, even one `patchNode` left in req.body: the upstream
      // then gets the client's exact bytes rather than a re-serialization.
      const raw = typeof parsed.rawBody === 'string' ? parsed.rawBody : typeof req.rawBody === 'string' ? req.rawBody : undefined;
      if (raw !== undefined) req.body = raw;
      else if (req.body === undefined && parsed.body !== undefined) req.body = parsed.body;
    }
    let passed = false;
    handler(req, ctx.res, () => {
      passed = true;
    });
    if (passed) return next();
    // The bridge owns the response from here.
    ctx.respond = false;
    return Promise.resolve();
  };
  return Object.assign(middleware, { transport: handler.transport as NodeTransportLike });
}

export interface KoaMiddlewareOptions {
  /** How a GatewayError the hook raises is rendered; text by default. */
  renderer?: RendererOption;
  /** `context.state` for the hook (app state; Koa's own `ctx.state` holds the scope). */
  state?: object;
  /** `context.platform.env`; an empty object by default. waitUntil work runs unattended (no gateway drains it). */
  env?: object;
}

/**
 * A gateway hook, or a whole middleware, as plain Koa middleware on the app's own routes, without
 * a gateway: the hook (or the middleware's request phase) goes on or answers; a middleware's
 * response phase runs on the response Koa (or a gateway after it) writes, just before its head,
 * and its settle phase when that response ended. Scope values live in `ctx.state`.
 * @example app.use(koaMiddleware(requireApiKey))
 */
export const koaMiddleware = (hook: Hook | GatewayMiddleware, { renderer, state, env }: KoaMiddlewareOptions = {}): Middleware => {
  const middleware: GatewayMiddleware = isMiddleware(hook) ? hook : { name: hook.name || 'hook', request: hook };
  const request = middleware.request as Hook | undefined;
  const platform = env === undefined ? undefined : { env };
  return async function apigateMiddleware(ctx, next) {
    const standalone = { ...standaloneRequest(ctx.req, ctx.state as Record<PropertyKey, unknown>, state), platform };
    if (middleware.response !== undefined || middleware.settle !== undefined) {
      const started = performance.now();
      watchResponse(ctx.res, {
        head: middleware.response && ((status, headers) => runStandaloneResponse(middleware, standalone, { status, headers })),
        end: middleware.settle && ((status) => runStandaloneSettle(middleware, standalone, { status, durationMs: performance.now() - started })),
      });
    }
    if (request === undefined) return next();
    const result = await runHook(request, standalone, renderer);
    if (result.next) return next();
    ctx.respond = false;
    sendResponse(ctx.req, ctx.res, result.response);
  };
};

export { renderClientErrors };
