// apigate on koa 3 on NodeTransport (http-proxy-3), the reference: app.use(koaGateway(gateway, { transport })).
import { createServer } from 'node:http';
import { koaGateway } from '@apigate/koa';
import Koa from 'koa';
import { onNodeTransport, passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

const app = new Koa();
const gateway = passthroughGateway();
app.use(koaGateway(gateway, onNodeTransport(gateway)));
listen(createServer(app.callback()));
