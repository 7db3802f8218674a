// express 5 + http-proxy-middleware 4 with a keep-alive agent.
import { createServer } from 'node:http';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { keepAliveAgent, listen, origin, prefix } from './shared.ts';

const app = express();
app.disable('x-powered-by');
app.use(prefix, createProxyMiddleware({ target: origin, agent: keepAliveAgent() }));
listen(createServer(app));
