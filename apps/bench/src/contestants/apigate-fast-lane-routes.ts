// The same working routes served through the Express fast lane: gateway routes before Express's own handling.
import { createServer } from 'node:http';
import { expressFastLane } from '@apigate/express';
import express from 'express';
import { onNodeTransport } from './apigate-gateway.ts';
import { listen } from './shared.ts';
import { workingGateway } from './working-gateway.ts';

const app = express();
app.disable('x-powered-by');
const gateway = workingGateway();
listen(createServer(expressFastLane(app, gateway, onNodeTransport(gateway))));
