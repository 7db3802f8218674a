// apigate on express 5 with routes that do work: a hook, JSON validation, a map, a sticky policy.
import { createServer } from 'node:http';
import { createGateway, get, service, type Hook } from '@apigate/core';
import { expressGateway } from '@apigate/express';
import { headerSticky } from '@apigate/policies/header-sticky';
import { post } from '@apigate/validation';
import express from 'express';
import { order } from './order.ts';
import { listen, origin, originB, prefix } from './shared.ts';

const tag: Hook = (ctx) => {
  ctx.headers.set('x-bench', 'hooked');
};

const api = service({ name: 'api', prefix }, [
  // Passthrough routes in the same process: the baseline the working routes are compared with.
  get('/tiny'),
  post('/orders-raw', { to: '/orders' }),
  get('/tiny-hook', { to: '/tiny', before: tag }),
  post('/orders', { json: order }),
  post('/orders-mapped', {
    json: order,
    to: '/orders',
    map: (input) => ({ lines: [{ sku: input.sku, quantity: input.qty }], note: input.note ?? null }),
  }),
]);
const sticky = service({ name: 'sticky', prefix: '/sticky', policy: 'byTenant' }, [get('/tiny')]);

const gateway = createGateway({ policies: { byTenant: headerSticky('x-tenant') } })
  .mount(api, [origin])
  .mount(sticky, [origin, originB])
  .build();

const app = express();
app.disable('x-powered-by');
app.use(expressGateway(gateway));
listen(createServer(app));
