// The working routes of apigate-express-routes with the undici transport underneath: the JSON-validated
// route's CPU was mostly Node's HTTP client, which UndiciTransport replaces.
import { createServer } from 'node:http';
import { expressGateway } from '@apigate/express';
import { UndiciTransport } from '@apigate/proxy/node';
import express from 'express';
import { listen } from './shared.ts';
import { workingGateway } from './working-gateway.ts';

const gateway = workingGateway();
const app = express();
app.disable('x-powered-by');
app.use(expressGateway(gateway, { transport: new UndiciTransport(gateway.upstream) }));
listen(createServer(app));
