// apigate on hono + @hono/node-server with the Node transport: honoGateway from '@apigate/hono/node'.
import { serve, type HttpBindings } from '@hono/node-server';
import { honoGateway } from '@apigate/hono/node';
import { Hono } from 'hono';
import { passthroughGateway } from './apigate-gateway.ts';
import { announce } from './shared.ts';

const app = new Hono<{ Bindings: HttpBindings }>();
app.use(honoGateway(passthroughGateway()));
serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => announce(info.port));
