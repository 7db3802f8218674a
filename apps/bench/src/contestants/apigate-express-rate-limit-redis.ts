// apigate on express 5 with a rate limit at gateway level, counted in Redis: a redis-server of
// this contestant's own on a free loopback port (no persistence), one round trip per request.
import { spawn } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { createServer } from 'node:http';
import { expressGateway } from '@apigate/express';
import { rateLimit, tokenBucket } from '@apigate/rate-limit';
import { redisStore } from '@apigate/rate-limit/redis';
import express from 'express';
import { Redis } from 'ioredis';
import { onNodeTransport, passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

const port = await freePort();
const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
server.once('error', (error) => {
  console.error(`apigate-express-rate-limit-redis: cannot start redis-server (apt-get install -y redis-server): ${error.message}`);
  process.exit(1);
});
// The harness ends contestants with SIGTERM (shared.ts exits on it): redis-server goes with us.
process.once('exit', () => server.kill('SIGKILL'));

const client = new Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
client.on('error', () => undefined);
await new Promise<void>((resolve) => client.once('ready', () => resolve()));

const limiter = rateLimit({
  limits: [tokenBucket({ rate: 1e9, per: '1s', burst: 1e9, name: 'bench' })],
  store: redisStore({ client, timeout: 1_000 }),
  headers: { allowed: true },
  // A failure would let requests through unlimited and measure the wrong path: say so loudly.
  onStoreError: (failure) => console.error(`apigate-express-rate-limit-redis: store ${failure.reason}`),
});
const app = express();
app.disable('x-powered-by');
const gateway = passthroughGateway([limiter]);
app.use(expressGateway(gateway, onNodeTransport(gateway)));
listen(createServer(app));
