// apigate on express 5 with one no-op middleware at gateway level: the lifecycle's own cost.
import { createServer } from 'node:http';
import { expressGateway } from '@apigate/express';
import express from 'express';
import { noop, onNodeTransport, passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

const app = express();
app.disable('x-powered-by');
const gateway = passthroughGateway([noop]);
app.use(expressGateway(gateway, onNodeTransport(gateway)));
listen(createServer(app));
