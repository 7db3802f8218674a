// fastify 5 + @fastify/http-proxy (undici pool).
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import { announce, origin, prefix } from './shared.ts';

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 * 1024 });
await app.register(proxy, { upstream: origin, prefix, rewritePrefix: '' });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
announce(typeof address === 'object' && address !== null ? address.port : 0);
