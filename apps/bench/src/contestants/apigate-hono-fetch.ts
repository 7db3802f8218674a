// apigate on hono + @hono/node-server with the fetch (edge) transport: honoGateway from '@apigate/hono'.
import { serve } from '@hono/node-server';
import { honoGateway } from '@apigate/hono';
import { Hono } from 'hono';
import { passthroughGateway } from './apigate-gateway.ts';
import { announce } from './shared.ts';

const app = new Hono();
app.use(honoGateway(passthroughGateway()));
serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => announce(info.port));
