import { createGateway, get, post, service, type Hook } from '@apigate/core';
import { honoMiddleware, workerGateway } from '@apigate/hono';
import { byHeader, fixedWindow, rateLimit } from '@apigate/rate-limit';
import { durableObjectStore, type DurableObjectNamespaceLike } from '@apigate/rate-limit/durable-object';
import { Hono } from 'hono';

// The Durable Object class behind RATE_LIMITER: workerd finds it among the module's exports.
export { RateLimitObject } from '@apigate/rate-limit/durable-object';

// A Hono worker for Cloudflare Workers (workerd), with routes of its own and gateway routes
// beside them. `@apigate/hono` forwards through the fetch transport. The upstream's origin is the
// UPSTREAM binding (a var in wrangler.toml; Miniflare's `bindings` in src/dev.ts); the auth
// service is another Worker, reached through the AUTH_SERVICE service binding.

type Bindings = { UPSTREAM: string; AUTH_SERVICE: { fetch: typeof fetch }; RATE_LIMITER: DurableObjectNamespaceLike };

/** A hook (core's neutral middleware contract): gives the request an id, upstream and in scope. */
const requestId: Hook = (ctx) => {
  const id = ctx.headers.get('x-request-id') ?? crypto.randomUUID();
  ctx.headers.set('x-request-id', id);
  ctx.set('requestId', id);
};

const api = service({ name: 'api', prefix: '/api' }, [
  get('/hello'), //                                           passthrough: /api/hello -> /hello
  get('/users/{id}', { to: '/v1/users/{id}' }), //            template rewrite
  post('/notes'), //                                          the body is streamed upstream
  get('/traced', { before: requestId }), //                   a hook runs first
]);

// The upstream is a Worker, named by its binding (never a URL): the fetch transport calls
// env.AUTH_SERVICE.fetch(). The cached route hands Cloudflare's cache options to that fetch.
const auth = service({ name: 'auth', prefix: '/auth' }, [
  get('/session'), //                                         /auth/session -> the auth worker's /session
  get('/profiles/{id}', { to: '/v1/profiles/{id}', upstream: { cf: { cacheTtl: 60, cacheEverything: true } } }),
]);

// A global limit through Durable Objects: 3 requests an hour per X-Client, whichever isolate or
// location serves them (@apigate/rate-limit/durable-object).
const limited = (namespace: DurableObjectNamespaceLike) =>
  service({ name: 'limited', prefix: '/limited', use: [rateLimit({ name: 'global', key: byHeader('x-client'), limits: [fixedWindow({ limit: 3, window: '1h', name: 'hourly' })], store: durableObjectStore(namespace), headers: { allowed: true } })] }, [get('/ping', { to: '/hello' })]);

// A module worker gets its bindings with each request, not at import time: workerGateway builds
// the gateway on the isolate's first request, from its env, and keeps it for the isolate's life.
const gateway = workerGateway((env: Bindings) =>
  createGateway({ renderer: 'json' }).mount(api, [env.UPSTREAM]).mount(auth, ['binding://AUTH_SERVICE']).mount(limited(env.RATE_LIMITER), [env.UPSTREAM]).build(),
);

const app = new Hono<{ Bindings: Bindings; Variables: { requestId: string } }>();
app.use(gateway.middleware); // every other request goes on with next()
app.get('/', (c) => c.json({ app: 'a Hono route of its own, beside the gateway' }));
// The same hook as plain Hono middleware: its scope values are c.get() variables.
app.get('/whoami', honoMiddleware(requestId), (c) => c.json({ requestId: c.get('requestId') }));
app.post('/feedback', async (c) => c.json({ received: await c.req.json<unknown>() }));

export default { fetch: app.fetch };
