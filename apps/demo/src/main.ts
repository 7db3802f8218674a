import type { AddressInfo } from 'node:net';
import { createGateway, defineRoutes, loggingObserver, service } from '@apigate/core';
import { unauthorized } from '@apigate/errors';
import { expressGateway, renderClientErrors } from '@apigate/express';
import express from 'express';
import { pino } from 'pino';
import { startUpstream } from './upstreams.ts';

type DemoEnv = { state: { apiKey: string }; scope: { client: string } };
const { get } = defineRoutes<DemoEnv>();

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
]);

const gateway = createGateway({ state: { apiKey: 'demo-key' }, renderer: 'json', observer: loggingObserver(pino({ level: process.env.LOG_LEVEL ?? 'info' })) })
  .mount(sales, [salesA.url, salesB.url])
  .build();

const app = express();
app.use(expressGateway(gateway));
app.get('/', (_req, res) => {
  res.json({ app: 'an Express route of its own, beside the gateway' });
});

const port = Number(process.env.PORT ?? 8080);
const server = app.listen(port, '127.0.0.1', () => {
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`apigate demo on ${base} (upstreams ${salesA.url} and ${salesB.url}); try:
  curl ${base}/                                  # the app's own route
  curl ${base}/sales/ping                        # passthrough -> /ping, round robin over two upstreams
  curl ${base}/sales/public?page=2               # static rewrite -> /internal?page=2
  curl ${base}/sales/item/42/review              # template rewrite -> /api/v2/reviews/42
  curl ${base}/sales/orders                      # 401 from the auth hook
  curl -H 'X-Api-Key: demo-key' ${base}/sales/orders
  curl ${base}/sales/item/..%2Fadmin/review      # 400 invalid_path
Ctrl-C stops it.`);
});
renderClientErrors(server, gateway);

const stop = (): void => {
  server.close();
  salesA.server.close();
  salesB.server.close();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
