// apigate on express 5 on UndiciTransport, the default: app.use(expressGateway(gateway)), the
// transport the adapter makes. The upload memory target is judged on it.
import { createServer } from 'node:http';
import { expressGateway } from '@apigate/express';
import express from 'express';
import { passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

const app = express();
app.disable('x-powered-by');
app.use(expressGateway(passthroughGateway()));
listen(createServer(app));
