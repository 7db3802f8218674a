// A Worker: apigate on Hono with the fetch transport, the Node contestant apigate-hono-fetch.ts in
// workerd. The origin comes from the ORIGIN binding (a Worker has no process.env), so the gateway
// is built by workerGateway from the first request's env, as docs/hono.md shows for Workers.
import { createGateway, get, post, service } from '@apigate/core';
import { workerGateway } from '@apigate/hono';
import { Hono } from 'hono';

type Bindings = { ORIGIN: string };

// The routes of contestants/apigate-gateway.ts (which reads process.env, so cannot be bundled here).
const gateway = workerGateway((env: Bindings) => createGateway().mount(service({ name: 'origin', prefix: '/api' }, [get('/tiny'), get('/64k'), post('/upload'), post('/orders')]), [env.ORIGIN]).build());

const app = new Hono<{ Bindings: Bindings }>();
app.use(gateway.middleware);

export default { fetch: app.fetch };
