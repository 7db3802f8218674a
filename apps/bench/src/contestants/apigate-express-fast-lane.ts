// apigate express fast lane: http.createServer(expressFastLane(app, gateway)).
import { createServer } from 'node:http';
import { expressFastLane } from '@apigate/express';
import express from 'express';
import { passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

const app = express();
app.disable('x-powered-by');
listen(createServer(expressFastLane(app, passthroughGateway())));
