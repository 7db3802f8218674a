import type { AddressInfo } from 'node:net';
import { apiKey, hashApiKey, introspection, jwt, type Consumer } from '@apigate/auth';
import { createGateway, loggingObserver, service, type Middleware } from '@apigate/core';
import { unauthorized } from '@apigate/errors';
import { expressGateway, renderClientErrors } from '@apigate/express';
import { dynamicTarget, leastTime, pathSticky } from '@apigate/policies';
import { interceptBody, rewriteCookies, rewriteLocation } from '@apigate/proxy';
import { NodeTransport, type NodeTransportLike } from '@apigate/proxy/node';
import { byScope, rateLimit, tokenBucket } from '@apigate/rate-limit';
import { defineRoutes } from '@apigate/validation';
import express from 'express';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { z } from 'zod';
import { startIdp, startUpstream } from './upstreams.ts';

// The demo gateway: an Express app with a route of its own, and gateway routes to two echo
// upstreams that it starts itself on loopback. PORT (default 8080; 0 picks a free port) and
// LOG_LEVEL (pino level, default info; `silent` for none) configure it.

type DemoEnv = { state: { apiKey: string }; scope: { client: string } };
// The validated builders: core's, plus path/query/json/form validation and maps.
const { get, post, all } = defineRoutes<DemoEnv>();

const [salesA, salesB] = await Promise.all([startUpstream('sales-a'), startUpstream('sales-b')]);

const sales = service({ name: 'sales', prefix: '/sales' }, [
  get('/ping'),
  get('/public', { to: '/internal' }),
  get('/item/{id}/review', { to: '/api/v2/reviews/{id}' }),
  get('/orders', {
    before: (ctx) => {
      if (ctx.headers.get('x-api-key') !== ctx.state.apiKey) return unauthorized('Send the demo key in X-Api-Key.');
      ctx.set('client', 'demo');
      ctx.headers.delete('x-api-key');
      ctx.headers.set('x-client', ctx.get('client') ?? 'unknown');
    },
  }),
  // A bad order is answered 422 by the gateway; a good one goes upstream in the upstream's shape.
  post('/orders', {
    json: z.object({ sku: z.string().min(1), qty: z.number().int().positive() }),
    map: (order) => ({ lines: [{ sku: order.sku, quantity: order.qty }] }),
  }),
  // One cart, one upstream: consistent hashing on the path parameter.
  get('/carts/{cartId}', { policy: 'byCart' }),
  // Whichever upstream answers fastest (latency x requests in flight) gets the report.
  get('/reports', { policy: 'fastest' }),
  // Rate limited: 3 a minute per client address (a token bucket refilling one every 20 s), with
  // the RateLimit headers on every answer; the 4th in a row is refused 429 with Retry-After.
  get('/quota', {
    to: '/ping',
    use: [rateLimit({ name: 'quota', limits: [tokenBucket({ rate: 3, per: '1m', name: 'minute' })], headers: { allowed: true } })],
  }),
  // The upstream's redirect and cookie, rewritten to the gateway's public path (HPM's autoRewrite
  // and cookieDomainRewrite/cookiePathRewrite).
  get('/moved', { use: [rewriteLocation(), rewriteCookies({ domain: { 'sales.internal': '' }, path: { '/': '/sales/' } })] }),
  // The JSON body, whole, through an interceptor (HPM's responseInterceptor), 64 KiB at most.
  get('/summary', {
    to: '/ping',
    use: [
      interceptBody({
        limit: 65_536,
        intercept: (body) => {
          const echo = JSON.parse(body) as { upstream: string; url: string; headers: Record<string, string> };
          return `${JSON.stringify({ summary: `${echo.upstream} answered ${echo.url}`, forwardedPort: echo.headers['x-forwarded-port'] }, null, 2)}\n`;
        },
      }),
    ],
  }),
]);

// The backend chosen per request by the X-Tenant header, among the configured ones only: an
// unknown tenant (or none) is 503, never a connection elsewhere (HPM's router, made safe).
const tenants = service({ name: 'tenants', prefix: '/tenants', policy: 'byTenant' }, [get('/whoami', { to: '/ping' })]);

// A whole prefix in one line: every method and path under /files goes to /storage/..., the tail
// forwarded with the client's encoding and checked segment by segment.
const files = service({ name: 'files', prefix: '/files' }, [all('/{*rest}', { to: '/storage/{*rest}' })]);

// JWT on a whole service. The secret is made at startup and the demo mints (and prints) a token
// signed with it, as an IdP would issue one; `sub` goes upstream as X-User-Id, the token does not.
const demoSecret = crypto.getRandomValues(new Uint8Array(32));
const demoToken = await new SignJWT({ sub: 'demo-user', scope: 'profile' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('24h').sign(demoSecret);
const account = service({ name: 'account', prefix: '/account', use: [jwt({ secret: demoSecret, claimHeaders: { sub: 'x-user-id' } })] }, [get('/me')]);

// The same with an identity provider on loopback: RS256 tokens against its remote JWKS (fetched
// before the gateway is ready, cached), and opaque tokens checked with its introspection endpoint.
const idp = await startIdp();
const profile = service({ name: 'profile', prefix: '/profile', use: [jwt({ jwks: `${idp.url}/jwks.json`, claimHeaders: { sub: 'x-user-id' } })] }, [get('/me')]);
const opaque = service(
  { name: 'opaque', prefix: '/opaque', use: [introspection({ endpoint: `${idp.url}/introspect`, clientId: idp.client.id, clientSecret: idp.client.secret, claimHeaders: { sub: 'x-user-id', client_id: 'x-client-id' } })] },
  [get('/me')],
);
// API keys on a whole service, and a rate limit per consumer whose tier picks the limits. The demo
// makes a key at startup, prints it, and keeps only its SHA-256 hash, as a key store should.
const demoKey = `demo_${[...crypto.getRandomValues(new Uint8Array(16))].map((byte) => byte.toString(16).padStart(2, '0')).join('')}`;
const partnerKeys = apiKey({ keys: [{ hash: await hashApiKey(demoKey), consumer: 'demo-partner', tier: 'pro' }], consumerHeaders: { id: 'x-consumer-id', tier: 'x-consumer-tier' } });
const perConsumer = rateLimit({
  name: 'partner-quota',
  key: byScope('consumer', { select: (consumer) => (consumer as Consumer).id }),
  limits: [tokenBucket({ rate: 10, per: '1m', name: 'free' })],
  tiers: { by: (ctx) => (ctx.get('consumer') as Consumer | undefined)?.tier, limits: { pro: [tokenBucket({ rate: 100, per: '1m', name: 'pro' })] } },
  headers: { allowed: true },
});
const partner = service({ name: 'partner', prefix: '/partner', use: [partnerKeys, perConsumer] }, [get('/orders')]);

/**
 * Gateway-level middleware: every request gets an id (the client's X-Request-Id, or a new one) that
 * goes upstream and comes back on every answer, proxied or made by the gateway.
 */
const requestId = ({ header = 'x-request-id' } = {}): Middleware => ({
  name: 'request-id',
  request: (ctx) => {
    const id = ctx.headers.get(header) ?? crypto.randomUUID();
    ctx.headers.set(header, id);
    ctx.set('requestId', id);
  },
  response: (ctx) => {
    const id = ctx.get('requestId');
    if (typeof id === 'string') ctx.headers.set(header, id);
  },
});

const gateway = createGateway({
  use: [requestId()],
  state: { apiKey: 'demo-key' },
  renderer: 'json',
  observer: loggingObserver(pino({ level: process.env.LOG_LEVEL ?? 'info' })),
  policies: {
    byCart: pathSticky('cartId'),
    fastest: leastTime(),
    byTenant: dynamicTarget({ header: 'x-tenant', targets: { a: salesA.url, b: salesB.url }, fallback: 'none' }),
  },
})
  .mount(sales, [salesA.url, salesB.url]) // two backends: round robin, the default policy
  .mount(files, [salesA.url])
  .mount(account, [salesA.url])
  .mount(profile, [salesA.url])
  .mount(opaque, [salesA.url])
  .mount(partner, [salesB.url])
  .mount(tenants, [salesA.url, salesB.url])
  .build();
await gateway.ready();

const app = express();
// APIGATE_TRANSPORT=node forwards on http-proxy-3, the reference transport, instead of undici's
// dispatcher (docs/proxy.md, "Choosing the Node transport"): every route below behaves the same.
const transport: NodeTransportLike | undefined = process.env.APIGATE_TRANSPORT === 'node' ? new NodeTransport(gateway.upstream) : undefined;
const handler = expressGateway(gateway, { transport });
app.use(handler);
app.get('/', (_req, res) => {
  res.json({ app: 'an Express route of its own, beside the gateway' });
});

const port = Number(process.env.PORT ?? 8080);
const server = app.listen(port, '127.0.0.1', (error) => {
  if (error) {
    console.error(`apigate demo: cannot listen on 127.0.0.1:${port}: ${error.message} (set PORT, or PORT=0 for any free port)`);
    stop();
    process.exitCode = 1;
    return;
  }
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const json = 'Content-Type: application/json';
  const tries: [command: string, note: string][] = [
    [`curl '${base}/'`, "the app's own route"],
    [`curl '${base}/sales/ping'`, 'passthrough -> /ping, round robin over the two upstreams'],
    [`curl '${base}/sales/public?page=2'`, 'static rewrite -> /internal?page=2'],
    [`curl '${base}/sales/item/42/review'`, 'template rewrite -> /api/v2/reviews/42'],
    [`curl '${base}/sales/orders'`, '401 from the auth hook'],
    [`curl -H 'X-Api-Key: demo-key' '${base}/sales/orders'`, '200, the hook sends X-Client: demo upstream'],
    [`curl '${base}/sales/item/..%2Fadmin/review'`, '400 invalid_path: no escaping the rewrite'],
    [`curl -H '${json}' -d '{"sku":"A-1","qty":2}' '${base}/sales/orders'`, '200, validated; the map reshapes the body upstream'],
    [`curl -H '${json}' -d '{"sku":"","qty":0}' '${base}/sales/orders'`, '422 validation_failed with the issues, never forwarded'],
    [`curl '${base}/sales/carts/42'`, 'path-sticky: cart 42 reaches the same upstream every time'],
    [`curl '${base}/sales/reports'`, 'least time: the upstream answering fastest gets it'],
    [`curl '${base}/files/reports/2024/q1%20summary.pdf'`, 'catch-all -> /storage/reports/2024/q1%20summary.pdf, encoding kept'],
    [`curl -X PATCH -H '${json}' -d '{"title":"done"}' '${base}/files/notes/todo.txt'`, 'all(): any method, here PATCH with its body'],
    [`curl '${base}/files/..%2F..%2Fetc/passwd'`, '400 invalid_path: the tail is checked segment by segment'],
    [`curl -i -H 'X-Request-Id: demo-1' '${base}/sales/ping'`, 'middleware: the request id goes upstream and comes back on the answer'],
    [`curl -i '${base}/account/me'`, 'jwt(): 401 with WWW-Authenticate: Bearer realm="api"'],
    [`curl -H 'Authorization: Bearer ${demoToken}' '${base}/account/me'`, 'jwt(): a token the demo minted (24 h); the upstream gets X-User-Id: demo-user, not the token'],
    [`curl -H 'Authorization: Bearer ${idp.jwt}' '${base}/profile/me'`, "jwt() on the IdP's remote JWKS (RS256): the upstream gets X-User-Id: rs-user"],
    [`curl -H 'Authorization: Bearer ${idp.opaque}' '${base}/opaque/me'`, 'introspection() (RFC 7662) of an opaque token: X-User-Id: opaque-user, X-Client-Id: demo-spa'],
    [`curl -i '${base}/partner/orders'`, 'apiKey(): 401 with WWW-Authenticate: ApiKey realm="api", header="x-api-key"'],
    [`curl -i -H 'X-Api-Key: ${demoKey}' '${base}/partner/orders'`, 'apiKey(): the demo key (only its hash is kept); X-Consumer-Id/-Tier upstream, the "pro" tier\'s rate limit'],
    [`curl -i '${base}/sales/quota'`, 'rate limited, 3 a minute: RateLimit headers say what is left; the 4th in a row is 429 rate_limited'],
    [`curl -i '${base}/sales/moved'`, 'rewriteLocation/rewriteCookies: Location: /sales/welcome, Set-Cookie: session=1; Path=/sales/'],
    [`curl '${base}/sales/summary'`, 'interceptBody: the JSON answer rewritten whole by the gateway'],
    [`curl -H 'X-Tenant: b' '${base}/tenants/whoami'`, 'dynamicTarget: tenant b always reaches sales-b'],
    [`curl -H 'X-Tenant: mallory' '${base}/tenants/whoami'`, '503 no_backend_available: a tenant the mapping lacks reaches nothing'],
    [`curl '${base}/sales//ping'`, '400 invalid_path: an empty path segment is refused, not merged'],
  ];
  const width = Math.max(...tries.map(([command]) => command.length));
  console.log(`apigate demo on ${base} (pid ${process.pid}; ${transport === undefined ? 'undici' : 'http-proxy-3'} transport; upstreams sales-a ${salesA.url}, sales-b ${salesB.url}); try:`);
  for (const [command, note] of tries) console.log(`  ${command.padEnd(width)}  # ${note}`);
  console.log(`Ctrl-C stops it. So does one SIGTERM: kill ${process.pid}`);
});
renderClientErrors(server, gateway);

// In-flight requests finish first; then the pooled upstream connections and the upstreams close,
// nothing is left in the event loop, and the process exits 0.
let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  server.close(() => {
    handler.transport.close();
    salesA.server.close();
    salesB.server.close();
    idp.server.close();
  });
}
process.on('SIGTERM', stop);

// Under `pnpm start` (or `npm start`) one Ctrl-C arrives twice: from the terminal to the whole
// process group, and again forwarded by the package manager to its script. A signal that lands
// while Node is tearing down, after its handlers are gone, kills the process, and pnpm then
// reports the signal as a failed command (ELIFECYCLE). So the demo stays up until the forwarded
// copy has come, for 2 s at most.
const forwarded = process.env.npm_lifecycle_event !== undefined;
let interrupts = 0;
let awaitingCopy: NodeJS.Timeout | undefined;
process.on('SIGINT', () => {
  interrupts += 1;
  stop();
  if (forwarded && interrupts === 1) awaitingCopy = setTimeout(() => {}, 2_000);
  else clearTimeout(awaitingCopy);
});
