import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createGateway, post as passthrough, service, type Gateway } from '@apigate/core';
import { expressGateway } from '@apigate/express';
import { closeServer, listen, send, startUpstream, type Reply, type Upstream } from '@apigate/test-utils/http';
import { post } from '@apigate/validation';
import express, { type ErrorRequestHandler } from 'express';
import { z } from 'zod';
import { extractBlocks } from './blocks.ts';
import { root } from './docs.ts';

/**
 * docs/express.md's error handler for the errors of a body parser in front of the gateway, run as
 * the page writes it: the block is written out as a module and imported, so what is tested is
 * what the docs say.
 */
const loadHandler = async (): Promise<(gateway: Gateway) => ErrorRequestHandler> => {
  const { blocks } = extractBlocks('docs/express.md', readFileSync(join(root, 'docs/express.md'), 'utf8'));
  const block = blocks.find((candidate) => candidate.code.includes('export const gatewayErrors'));
  if (block === undefined) throw new Error('docs/express.md has no ts block that exports gatewayErrors: this test runs that block');
  const dir = new URL('../generated/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'gateway-errors.ts');
  writeFileSync(file, `// Written by src/express-errors.test.ts from docs/express.md:${block.line}.\n${block.code}\n`);
  return ((await import(file)) as { gatewayErrors: (gateway: Gateway) => ErrorRequestHandler }).gatewayErrors;
};

const json = { 'content-type': 'application/json' };
const codeOf = (reply: Reply): string | undefined => (reply.headers['content-type']?.startsWith('application/json') ? reply.json<{ error: { code: string } }>().error.code : undefined);
/** What a client of the JSON API got: status, the rendered code, and whether an HTML page or a stack trace came with it. */
const outcome = (reply: Reply) => ({ status: reply.status, code: codeOf(reply), html: reply.headers['content-type']?.startsWith('text/html') === true, stack: /\n?\s+at .+\(.+:\d+:\d+\)|&nbsp;at /.test(reply.text) });

describe("docs/express.md: the body parser's errors on gateway routes", () => {
  let upstream: Upstream;
  let gateway: Gateway;
  const servers: Server[] = [];
  let plain: number;
  let handled: number;

  beforeAll(async () => {
    // Express logs every error it handles outside NODE_ENV=test: the replies are what is checked.
    jest.spyOn(console, 'error').mockImplementation(() => {});
    const gatewayErrors = await loadHandler();
    upstream = await startUpstream();
    const shop = service({ name: 'shop', prefix: '/shop' }, [post('/orders', { json: z.unknown(), limit: 64 }), passthrough('/upload')]);
    gateway = createGateway({ renderer: 'json' }).mount(shop, [upstream.origin]).build();
    // The same app twice: Express's own handling, and the docs' handler after the gateway.
    const start = async (withHandler: boolean): Promise<number> => {
      const app = express();
      app.set('env', 'development'); // Express's default outside production: stack traces in its pages
      app.use(express.json());
      app.use(expressGateway(gateway));
      app.post('/own', (req, res) => {
        res.json({ own: req.body as unknown });
      });
      if (withHandler) app.use(gatewayErrors(gateway));
      const server = createServer(app);
      servers.push(server);
      return listen(server);
    };
    plain = await start(false);
    handled = await start(true);
  });

  afterAll(async () => {
    for (const server of servers) await closeServer(server);
    await gateway.close();
    await upstream.close();
    jest.restoreAllMocks();
  });

  it('without the handler, Express answers a gateway route with its HTML page and a stack trace', async () => {
    const reply = await send(plain, '/shop/upload', { method: 'POST', headers: json, body: '{"sku":' });
    expect(outcome(reply)).toEqual({ status: 400, code: undefined, html: true, stack: true });
  });

  it.each([
    ['malformed JSON', { headers: json, body: '{"sku":' }, 400, 'invalid_json'],
    ['a body over the parser limit, declared', { headers: json, body: JSON.stringify({ text: 'x'.repeat(200 * 1024) }) }, 413, 'payload_too_large'],
    ['a body over the parser limit, chunked', { headers: { ...json, 'transfer-encoding': 'chunked' }, body: JSON.stringify({ text: 'x'.repeat(200 * 1024) }) }, 413, 'payload_too_large'],
    ['an unsupported charset', { headers: { 'content-type': 'application/json; charset=koi8-r' }, body: '{}' }, 415, 'unsupported_media_type'],
  ] as const)('with the handler, %s on a gateway route is rendered by the gateway', async (_name, request, status, code) => {
    const before = upstream.seen.length;
    for (const path of ['/shop/upload', '/shop/orders']) {
      const reply = await send(handled, path, { method: 'POST', ...request });
      expect({ path, ...outcome(reply) }).toEqual({ path, status, code, html: false, stack: false });
    }
    expect(upstream.seen.length).toBe(before);
  });

  it("with the handler, a chunked body under the parser's limit but over the route's is the gateway's 413", async () => {
    const reply = await send(handled, '/shop/orders', { method: 'POST', headers: { ...json, 'transfer-encoding': 'chunked' }, body: JSON.stringify({ text: 'x'.repeat(100) }) });
    expect(outcome(reply)).toEqual({ status: 413, code: 'payload_too_large', html: false, stack: false });
    expect(upstream.seen.filter((seen) => seen.url === '/orders')).toEqual([]);
  });

  it("leaves the app's own routes to Express, and forwards good bodies", async () => {
    const own = await send(handled, '/own', { method: 'POST', headers: json, body: '{"sku":' });
    expect(outcome(own)).toMatchObject({ status: 400, code: undefined, html: true });
    const ok = await send(handled, '/shop/orders', { method: 'POST', headers: json, body: '{"sku":"a"}' });
    expect(ok.status).toBe(200);
    expect(upstream.seen.at(-1)).toMatchObject({ url: '/orders', body: '{"sku":"a"}' });
  });
});
