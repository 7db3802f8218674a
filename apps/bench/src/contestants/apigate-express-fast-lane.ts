// apigate express fast lane on NodeTransport (http-proxy-3), the reference: http.createServer(expressFastLane(app, gateway, { transport })).
import { createServer } from 'node:http';
import { expressFastLane } from '@apigate/express';
import express from 'express';
import { onNodeTransport, passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

const app = express();
app.disable('x-powered-by');
const gateway = passthroughGateway();
listen(createServer(expressFastLane(app, gateway, onNodeTransport(gateway))));
