// apigate on hono + @hono/node-server on UndiciTransport, the default (passed here as a user sharing it would): honoGateway(gateway, { transport: new UndiciTransport(…) }).
import { serve, type HttpBindings } from '@hono/node-server';
import { honoGateway } from '@apigate/hono/node';
import { UndiciTransport } from '@apigate/proxy/node';
import { Hono } from 'hono';
import { passthroughGateway } from './apigate-gateway.ts';
import { announce } from './shared.ts';

const gateway = passthroughGateway();
const app = new Hono<{ Bindings: HttpBindings }>();
app.use(honoGateway(gateway, { transport: new UndiciTransport(gateway.upstream) }));
serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => announce(info.port));
