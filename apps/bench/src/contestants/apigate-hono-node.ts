// apigate on hono + @hono/node-server on NodeTransport (http-proxy-3), the reference: honoGateway from '@apigate/hono/node'.
import { serve, type HttpBindings } from '@hono/node-server';
import { honoGateway } from '@apigate/hono/node';
import { Hono } from 'hono';
import { onNodeTransport, passthroughGateway } from './apigate-gateway.ts';
import { announce } from './shared.ts';

const app = new Hono<{ Bindings: HttpBindings }>();
const gateway = passthroughGateway();
app.use(honoGateway(gateway, onNodeTransport(gateway)));
serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => announce(info.port));
