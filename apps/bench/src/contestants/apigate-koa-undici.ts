// apigate on koa 3 on UndiciTransport, the default (passed here as a user sharing it would): koaGateway(gateway, { transport: new UndiciTransport(…) }).
import { createServer } from 'node:http';
import { koaGateway } from '@apigate/koa';
import { UndiciTransport } from '@apigate/proxy/node';
import Koa from 'koa';
import { passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

const gateway = passthroughGateway();
const app = new Koa();
app.use(koaGateway(gateway, { transport: new UndiciTransport(gateway.upstream) }));
listen(createServer(app.callback()));
