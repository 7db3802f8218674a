import type { Gateway } from '@apigate/core';
import { GatewayError, renderError, resolveRenderer, toGatewayError, type RendererOption } from '@apigate/errors';
import { toWebResponse } from '@apigate/proxy';
import { Hono, type Context, type ExecutionContext, type MiddlewareHandler } from 'hono';
import { honoGateway, type HonoGatewayOptions } from './index.ts';

export interface WorkerGatewayOptions extends Omit<HonoGatewayOptions, 'env'> {
  /**
   * How a build that throws is rendered (there is no gateway, so no gateway renderer, yet); text
   * by default. The next request builds again.
   */
  renderer?: RendererOption;
}

/** A gateway for a module Worker, built from the Worker's env on the isolate's first request. */
export interface WorkerGateway<TEnv extends object> {
  /** Hono middleware: the gateway's routes, `next()` for every other request. */
  readonly middleware: MiddlewareHandler<{ Bindings: TEnv }>;
  /**
   * A module Worker's `fetch` that serves only the gateway: `export default { fetch: gw.fetch }`.
   * Paths that are no gateway route get `404 not_found`, rendered by the gateway's renderer.
   */
  readonly fetch: (request: Request, env: TEnv, ctx: ExecutionContext) => Promise<Response>;
}

/** The request's waitUntil, where the runtime gave Hono an execution context. */
const waitUntilOf = (c: Context): ((promise: Promise<unknown>) => void) | undefined => {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    return undefined;
  }
};

/**
 * Builds the gateway once per isolate from the first request's env — a module Worker sees its
 * bindings only with a request — and serves every request with it. Concurrent first requests
 * share the one build (which may be async: a route table read from KV). The gateway's middleware
 * see the Worker's env and the request's `waitUntil` as `ctx.platform`, and `binding://NAME`
 * backends are looked up in that env. An env is fixed for an isolate's life: a deploy, a new var
 * or secret starts new isolates.
 * @example
 * const gw = workerGateway((env: Bindings) => createGateway().mount(api, [env.UPSTREAM]).build())
 * const app = new Hono<{ Bindings: Bindings }>()
 * app.use(gw.middleware)
 * export default app
 */
export const workerGateway = <TEnv extends object>(build: (env: TEnv) => Gateway | Promise<Gateway>, { renderer, ...options }: WorkerGatewayOptions = {}): WorkerGateway<TEnv> => {
  let ready: { gateway: Gateway; handle: MiddlewareHandler } | undefined;
  let pending: Promise<{ gateway: Gateway; handle: MiddlewareHandler }> | undefined;
  const start = async (env: TEnv): Promise<{ gateway: Gateway; handle: MiddlewareHandler }> => {
    const gateway = await build(env);
    ready = { gateway, handle: honoGateway(gateway, { ...options, env: (c) => (c.env as object | undefined) ?? {} }) };
    return ready;
  };
  const failed = (c: Context, error: unknown): Response => {
    // No gateway, so no observer to report to: the console is the Worker's log (wrangler tail).
    console.error('apigate: the gateway could not be built', error);
    const failure = new GatewayError('internal', { details: { reason: 'the gateway could not be built' }, cause: toGatewayError(error) });
    return toWebResponse(c.req.method, renderError(failure, { method: c.req.method, path: new URL(c.req.url).pathname }, resolveRenderer(renderer)));
  };
  const middleware: MiddlewareHandler<{ Bindings: TEnv }> = async function workerGateway(c, next) {
    let built = ready;
    if (built === undefined) {
      const first = pending === undefined;
      const building = (pending ??= start(c.env));
      // The build runs in the first request's context: workerd would cancel its I/O once that
      // request ends, and the requests waiting for it would hang.
      if (first) waitUntilOf(c)?.(building.catch(() => undefined));
      try {
        built = await building;
      } catch (error) {
        // The requests that shared this build fail with it; the next one builds again.
        if (pending === building) pending = undefined;
        return failed(c, error);
      }
    }
    return built.handle(c, next);
  };
  const app = new Hono<{ Bindings: TEnv }>();
  app.use(middleware);
  app.notFound((c) => {
    const gateway = ready!.gateway;
    return toWebResponse(c.req.method, gateway.render(new GatewayError('not_found'), c.req.method, new URL(c.req.url).pathname));
  });
  return { middleware, fetch: async (request, env, ctx) => app.fetch(request, env, ctx) };
};
