// The JSON-validated route by hand: express.json(), zod safeParse, http-proxy-middleware with fixRequestBody.
import { createServer } from 'node:http';
import express from 'express';
import { createProxyMiddleware, fixRequestBody } from 'http-proxy-middleware';
import { order } from './order.ts';
import { keepAliveAgent, listen, origin, prefix } from './shared.ts';

const app = express();
app.disable('x-powered-by');
const forward = createProxyMiddleware({ target: origin, agent: keepAliveAgent(), on: { proxyReq: fixRequestBody } });
app.post(
  `${prefix}/orders`,
  express.json(),
  (req, res, next) => {
    const result = order.safeParse(req.body);
    if (!result.success) {
      res.status(422).json({ issues: result.error.issues });
      return;
    }
    req.body = result.data;
    req.url = '/orders';
    next();
  },
  forward,
);
listen(createServer(app));
