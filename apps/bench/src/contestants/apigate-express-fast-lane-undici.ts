// apigate express fast lane on UndiciTransport, the default (passed here as a user sharing it would): expressFastLane(app, gateway, { transport: new UndiciTransport(…) }).
import { createServer } from 'node:http';
import { expressFastLane } from '@apigate/express';
import { UndiciTransport } from '@apigate/proxy/node';
import express from 'express';
import { passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

const gateway = passthroughGateway();
const app = express();
app.disable('x-powered-by');
listen(createServer(expressFastLane(app, gateway, { transport: new UndiciTransport(gateway.upstream) })));
