// apigate on express 5 on NodeTransport (http-proxy-3), the reference: app.use(expressGateway(gateway, { transport })).
import { createServer } from 'node:http';
import { expressGateway } from '@apigate/express';
import express from 'express';
import { onNodeTransport, passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

const app = express();
app.disable('x-powered-by');
const gateway = passthroughGateway();
app.use(expressGateway(gateway, onNodeTransport(gateway)));
listen(createServer(app));
