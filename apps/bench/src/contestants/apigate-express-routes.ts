// apigate on express 5 with routes that do work: a hook, JSON validation, a map, a sticky policy.
import { createServer } from 'node:http';
import { expressGateway } from '@apigate/express';
import express from 'express';
import { onNodeTransport } from './apigate-gateway.ts';
import { listen } from './shared.ts';
import { workingGateway } from './working-gateway.ts';

const app = express();
app.disable('x-powered-by');
const gateway = workingGateway();
app.use(expressGateway(gateway, onNodeTransport(gateway)));
listen(createServer(app));
