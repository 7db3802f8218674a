// apigate on express 5: app.use(expressGateway(gateway)).
import { createServer } from 'node:http';
import { expressGateway } from '@apigate/express';
import express from 'express';
import { passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

const app = express();
app.disable('x-powered-by');
app.use(expressGateway(passthroughGateway()));
listen(createServer(app));
