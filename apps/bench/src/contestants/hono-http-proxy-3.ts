// hono on @hono/node-server handing the raw Node request to bare http-proxy-3 in one middleware.
import { serve, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { bareProxy } from './bare-proxy.ts';
import { announce, prefix } from './shared.ts';

const forward = bareProxy();
const app = new Hono<{ Bindings: HttpBindings }>();
app.all(`${prefix}/*`, (c) => {
  const { incoming, outgoing } = c.env;
  incoming.url = incoming.url!.slice(prefix.length);
  forward(incoming, outgoing);
  return RESPONSE_ALREADY_SENT;
});
serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => announce(info.port));
