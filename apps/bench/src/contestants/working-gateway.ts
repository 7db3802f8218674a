// The gateway of the working-routes contestants: a hook, JSON validation, a map, a sticky policy.
import { createGateway, get, service, type Gateway, type Hook } from '@apigate/core';
import { headerSticky } from '@apigate/policies/header-sticky';
import { post } from '@apigate/validation';
import { order } from './order.ts';
import { origin, originB, prefix } from './shared.ts';

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

export const workingGateway = (): Gateway =>
  createGateway({ policies: { byTenant: headerSticky('x-tenant') } })
    .mount(api, [origin])
    .mount(sticky, [origin, originB])
    .build();
