import type { AddressInfo } from 'node:net';
import { createGateway, get, post, service, type Hook } from '@apigate/core';
import { expressGateway, expressMiddleware, renderClientErrors } from '@apigate/express';
import express from 'express';
import { closedOrigin, startEcho } from './echo.ts';

// An Express app of its own (two routes) with gateway routes added beside it. The upstream is an
// echo server that this example starts on loopback, so each answer shows what the gateway sent.
// PORT (default 8080; 0 picks a free port) sets the port.

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

const app = express();
app.disable('x-powered-by');
const handler = expressGateway(gateway);
app.use(handler); // gateway routes; every other request falls through to the routes below
app.use(express.json()); // after the gateway: only the app's own routes get parsed bodies
app.get('/', (_req, res) => {
  res.json({ app: 'an Express route of its own, beside the gateway' });
});
// The same hook as plain Express middleware: its scope values land in res.locals.
app.get('/whoami', expressMiddleware(requestId), (_req, res) => {
  res.json({ requestId: res.locals.requestId as string });
});

const port = Number(process.env.PORT ?? 8080);
const server = app.listen(port, '127.0.0.1', (error) => {
  if (error) {
    console.error(`express-basic: cannot listen on 127.0.0.1:${port}: ${error.message} (set PORT, or PORT=0 for any free port)`);
    stop();
    process.exitCode = 1;
    return;
  }
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tries: [command: string, note: string][] = [
    [`curl '${base}/'`, "the app's own route"],
    [`curl -H 'X-Request-Id: abc' '${base}/whoami'`, 'the hook as plain Express middleware'],
    [`curl '${base}/api/hello?lang=en'`, 'passthrough -> /hello?lang=en'],
    [`curl '${base}/api/users/42'`, 'template rewrite -> /v1/users/42'],
    [`curl -H 'Content-Type: application/json' -d '{"text":"hi"}' '${base}/api/notes'`, 'the body is streamed upstream'],
    [`curl '${base}/api/traced'`, 'the hook sends X-Request-Id upstream'],
    [`curl -X DELETE '${base}/api/hello'`, '405 method_not_allowed, with Allow'],
    [`curl '${base}/api/users/..%2Fadmin'`, '400 invalid_path: no escaping the rewrite'],
    [`curl '${base}/legacy/report'`, '502 upstream_unreachable: nothing listens there'],
    [`curl -X FOO '${base}/api/hello'`, '501 not_implemented, from renderClientErrors'],
  ];
  const width = Math.max(...tries.map(([command]) => command.length));
  console.log(`express-basic on ${base} (echo upstream ${echo.url}); try:`);
  for (const [command, note] of tries) console.log(`  ${command.padEnd(width)}  # ${note}`);
  console.log('Ctrl-C stops it.');
});
// Requests Node's HTTP parser refuses (unknown method, headers too large) get the gateway's renderer.
renderClientErrors(server, gateway);

// In-flight requests finish first; then the pooled upstream connections and the upstream close.
function stop(): void {
  server.close(() => {
    handler.transport.close();
    echo.server.close();
  });
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
