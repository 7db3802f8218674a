/**
 * The conformance gateway as a Cloudflare Worker: a Hono app with the fetch-transport adapter and
 * an own route. The upstream origins come from the `ORIGINS` binding (Miniflare passes it), so
 * the gateway is built on the first request, once per isolate.
 */
import type { Gateway } from '@apigate/core';
import { honoGateway } from '@apigate/hono';
import type { DurableObjectNamespaceLike } from '@apigate/rate-limit/durable-object';
import { Hono, type ExecutionContext, type MiddlewareHandler } from 'hono';
import { buildGateway, type Origins, type PlatformBindings } from './gateway.ts';

/** The Worker's env; the platform route's middleware reads PLATFORM_SECRET and AUDIT_ORIGIN from it. */
export interface WorkerEnv extends PlatformBindings {
  readonly ORIGINS: Origins;
  /** Parse JSON bodies before the gateway, as an app whose own routes use `c.req.json()` would. */
  readonly PARSE_JSON?: boolean;
  /** The RateLimitObject namespace that `/limited-do` counts in. */
  readonly RATE_LIMITER: DurableObjectNamespaceLike;
}

// The Durable Object class behind RATE_LIMITER: workerd finds it among the module's exports.
export { RateLimitObject } from '@apigate/rate-limit/durable-object';

const app = new Hono<{ Bindings: WorkerEnv }>();

// A body read before the gateway: the adapter hands Hono's parsed body over to the pipeline.
app.use(async (c, next) => {
  if (c.env.PARSE_JSON === true && c.req.header('content-type')?.startsWith('application/json') === true) await c.req.json();
  await next();
});

let built: { gateway: Gateway; middleware: MiddlewareHandler } | undefined;
app.use(async (c, next) => {
  if (built === undefined) {
    const gateway = buildGateway(c.env.ORIGINS, { rateLimiter: c.env.RATE_LIMITER });
    built = { gateway, middleware: honoGateway(gateway) };
  }
  return built.middleware(c, next);
});
app.get('/own', (c) => c.text('own route'));

export default {
  // The execution context goes on to Hono: middleware's waitUntil is the request's.
  fetch: (request: Request, env: WorkerEnv, ctx: ExecutionContext): Response | Promise<Response> => app.fetch(request, env, ctx),
};
