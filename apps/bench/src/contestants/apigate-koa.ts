// apigate on koa 3: app.use(koaGateway(gateway)).
import { createServer } from 'node:http';
import { koaGateway } from '@apigate/koa';
import Koa from 'koa';
import { passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

const app = new Koa();
app.use(koaGateway(passthroughGateway()));
listen(createServer(app.callback()));
