// express 5 handing the raw request to bare http-proxy-3 in one middleware (Express strips the mount path).
import { createServer } from 'node:http';
import express from 'express';
import { bareProxy } from './bare-proxy.ts';
import { listen, prefix } from './shared.ts';

const forward = bareProxy();
const app = express();
app.disable('x-powered-by');
app.use(prefix, (req, res) => forward(req, res));
listen(createServer(app));
