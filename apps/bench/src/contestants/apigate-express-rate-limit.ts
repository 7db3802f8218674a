// apigate on express 5 with a rate limit at gateway level, counted in the memory store: what
// limiting costs the allowed path (the limit is far above what the bench can send).
import { createServer } from 'node:http';
import { expressGateway } from '@apigate/express';
import { rateLimit, tokenBucket } from '@apigate/rate-limit';
import express from 'express';
import { onNodeTransport, passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

// Every bench client is 127.0.0.1: one key, the hot path of a single busy client.
const limiter = rateLimit({ limits: [tokenBucket({ rate: 1e9, per: '1s', burst: 1e9, name: 'bench' })], headers: { allowed: true } });
const app = express();
app.disable('x-powered-by');
const gateway = passthroughGateway([limiter]);
app.use(expressGateway(gateway, onNodeTransport(gateway)));
listen(createServer(app));
