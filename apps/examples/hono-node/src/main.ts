import type { AddressInfo } from 'node:net';
import { createGateway, get, post, service, type Hook } from '@apigate/core';
import { honoMiddleware } from '@apigate/hono';
import { honoGateway } from '@apigate/hono/node';
import { serve, type HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { closedOrigin, startEcho } from './echo.ts';

// A Hono app on Node (@hono/node-server) with routes of its own and gateway routes beside them.
// `@apigate/hono/node` serves gateway routes from the raw Node request and response: no Web
// Request or Response is made for them. The upstream is an echo server that this example starts
// on loopback. PORT (default 8080; 0 picks a free port) sets the port.

/** A hook (core's neutral middleware contract): gives the request an id, upstream and in scope. */
const requestId: Hook = (ctx) => {
  const id = ctx.headers.get('x-request-id') ?? crypto.randomUUID();
  ctx.headers.set('x-request-id', id);
  ctx.set('requestId', id);
};

const echo = await startEcho();

const api = service({ name: 'api', prefix: '/api' }, [
  get('/hello'), //                                           passthrough: /api/hello -> /hello
  get('/users/{id}', { to: '/v1/users/{id}' }), //            template rewrite
  post('/notes'), //                                          the body is streamed upstream
  get('/traced', { before: requestId }), //                   a hook runs first
]);
// A service whose upstream is down, to show how an upstream failure is rendered.
const legacy = service({ name: 'legacy', prefix: '/legacy' }, [get('/report')]);

const gateway = createGateway({ renderer: 'json' })
  .mount(api, [echo.url])
  .mount(legacy, [closedOrigin()])
  .build();

// HttpBindings: @hono/node-server passes the raw request and response as c.env.incoming/outgoing.
const app = new Hono<{ Bindings: HttpBindings; Variables: { requestId: string } }>();
const gatewayMiddleware = honoGateway(gateway);
app.use(gatewayMiddleware); // gateway routes; every other request goes on with next()
app.get('/', (c) => c.json({ app: 'a Hono route of its own, beside the gateway' }));
// The same hook as plain Hono middleware: its scope values are c.get() variables.
app.get('/whoami', honoMiddleware(requestId), (c) => c.json({ requestId: c.get('requestId') }));
app.post('/feedback', async (c) => c.json({ received: await c.req.json<unknown>() }));

const port = Number(process.env.PORT ?? 8080);
const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info: AddressInfo) => {
  const base = `http://127.0.0.1:${info.port}`;
  const tries: [command: string, note: string][] = [
    [`curl '${base}/'`, "the app's own Hono route"],
    [`curl -H 'X-Request-Id: abc' '${base}/whoami'`, 'the hook as plain Hono middleware'],
    [`curl -H 'Content-Type: application/json' -d '{"stars":5}' '${base}/feedback'`, "the app's own route reads c.req.json()"],
    [`curl '${base}/api/hello?lang=en'`, 'passthrough -> /hello?lang=en'],
    [`curl '${base}/api/users/42'`, 'template rewrite -> /v1/users/42'],
    [`curl -H 'Content-Type: application/json' -d '{"text":"hi"}' '${base}/api/notes'`, 'the body is streamed upstream'],
    [`curl '${base}/api/traced'`, 'the hook sends X-Request-Id upstream'],
    [`curl -X DELETE '${base}/api/hello'`, '405 method_not_allowed, with Allow'],
    [`curl '${base}/api/users/..%2Fadmin'`, '400 invalid_path: no escaping the rewrite'],
    [`curl '${base}/legacy/report'`, '502 upstream_unreachable: nothing listens there'],
  ];
  const width = Math.max(...tries.map(([command]) => command.length));
  console.log(`hono-node on ${base} (echo upstream ${echo.url}); try:`);
  for (const [command, note] of tries) console.log(`  ${command.padEnd(width)}  # ${note}`);
  console.log('Ctrl-C stops it.');
});
server.once('error', (error) => {
  console.error(`hono-node: cannot listen on 127.0.0.1:${port}: ${error.message} (set PORT, or PORT=0 for any free port)`);
  stop();
  process.exitCode = 1;
});

// In-flight requests finish first; then the pooled upstream connections and the upstream close.
function stop(): void {
  server.close(() => {
    gatewayMiddleware.transport.close();
    echo.server.close();
  });
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
