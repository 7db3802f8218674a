import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type Middleware } from '@apigate/core';
import { fetchHandler } from './handler.ts';
import { FetchTransport } from './transport.ts';

type Outcome = { status: number } | { error: string };

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const upperChunk = (chunk: Uint8Array): Uint8Array => {
  for (let i = 0; i < chunk.length; i++) if (chunk[i]! >= 97 && chunk[i]! <= 122) chunk[i] = chunk[i]! - 32;
  return chunk;
};
const upper = (name = 'upper'): Middleware => ({
  name,
  response: (ctx) => void ctx.transform(new TransformStream({ transform: (chunk, controller) => controller.enqueue(upperChunk(chunk)) })),
});
const suffix = (name: string): Middleware => ({
  name,
  response: (ctx) => void ctx.transform(new TransformStream({ transform: (chunk, controller) => controller.enqueue(chunk), flush: (controller) => controller.enqueue(new TextEncoder().encode(`|${name}`)) })),
});

interface Setup {
  readonly levels?: { readonly gateway?: Middleware[]; readonly service?: Middleware[]; readonly route?: Middleware[] };
  readonly upstream: (req: IncomingMessage, res: ServerResponse) => void;
  readonly upstreamConfig?: { requestTimeout?: number; clientTimeout?: number };
}

const start = async ({ levels = {}, upstream, upstreamConfig = {} }: Setup) => {
  const server = createServer(upstream);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const outcomes: Outcome[] = [];
  const failures: string[] = [];
  const gateway = createGateway({
    use: levels.gateway ?? [],
    upstream: upstreamConfig,
    observer: {
      upstreamSucceeded: (event) => outcomes.push({ status: event.status }),
      upstreamFailed: (event) => outcomes.push({ error: event.error.code }),
      callbackFailed: (failure) => failures.push(`${failure.callback}: ${(failure.error as Error).message}`),
    },
  })
    .mount(service({ name: 'tx', prefix: '/tx', use: levels.service ?? [] }, [get('/x', { use: levels.route ?? [] })]), [origin])
    .build();
  const handle = fetchHandler(gateway, new FetchTransport(gateway.upstream));
  const call = async (method = 'GET'): Promise<Response> => (await handle(new Request('http://gateway.test/tx/x', { method })))!;
  return { call, outcomes, failures };
};

const until = async (label: string, check: () => boolean): Promise<void> => {
  for (let i = 0; i < 400 && !check(); i++) await sleep(25);
  if (!check()) throw new Error(`never became true: ${label}`);
};

const text = 'hello, transformed world\n'.repeat(4000);
const sendText = (_req: IncomingMessage, res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

describe('FetchTransport: response body transforms', () => {
  it('streams a proxied body through a route-level transform without the upstream Content-Length, and settles when its output ends', async () => {
    const { call, outcomes } = await start({ levels: { route: [upper()] }, upstream: sendText });
    const response = await call();
    expect([response.status, response.headers.get('content-length'), response.headers.get('content-type')]).toEqual([200, null, 'text/plain']);
    expect(await response.text()).toBe(text.toUpperCase());
    await until('settled', () => outcomes.length > 0);
    expect(outcomes).toEqual([{ status: 200 }]);
  });

  it("runs the transforms route → service → gateway: each level gets the one inside it's output", async () => {
    const { call } = await start({ levels: { gateway: [suffix('gateway')], service: [suffix('service')], route: [suffix('route'), upper()] }, upstream: sendText });
    expect(await (await call()).text()).toBe(`${text.toUpperCase()}|route|service|gateway`);
  });

  it('keeps a Content-Length the middleware sets after its transform', async () => {
    const sameLength: Middleware = {
      name: 'same-length',
      response: (ctx) => {
        const length = ctx.headers.get('content-length');
        upper().response!(ctx);
        if (length !== undefined) ctx.headers.set('content-length', length);
      },
    };
    const { call } = await start({ levels: { route: [sameLength] }, upstream: sendText });
    const response = await call();
    expect([response.headers.get('content-length'), (await response.text()) === text.toUpperCase()]).toEqual([String(Buffer.byteLength(text)), true]);
  });

  it('does not run a transform for HEAD', async () => {
    const taken: boolean[] = [];
    const recording: Middleware = { name: 'recording', response: (ctx) => void taken.push(ctx.transform(new TransformStream())) };
    const { call, outcomes } = await start({ levels: { route: [recording] }, upstream: sendText });
    const response = await call('HEAD');
    expect([response.status, await response.text(), response.headers.get('content-length'), taken]).toEqual([200, '', String(Buffer.byteLength(text)), [false]]);
    expect(outcomes).toEqual([{ status: 200 }]);
  });

  it('errors the body, settles internal once, reports the middleware and aborts the upstream when a transform throws mid-body', async () => {
    let next!: () => void;
    const go = new Promise<void>((resolve) => (next = resolve));
    let upstreamClosed: boolean | undefined;
    const failOnB: Middleware = {
      name: 'fail',
      response: (ctx) =>
        void ctx.transform(
          new TransformStream({
            transform: (chunk, controller) => {
              if (chunk.includes(98)) throw new Error('transform failed');
              controller.enqueue(chunk);
            },
          }),
        ),
    };
    const { call, outcomes, failures } = await start({
      // Two transforms: the failure is the inner one's, and reported as its middleware.
      levels: { gateway: [upper('outer')], route: [failOnB] },
      upstream: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('a'.repeat(1000));
        void go.then(() => res.write('b'.repeat(1000)));
        res.on('close', () => (upstreamClosed = !res.writableFinished));
      },
    });
    const response = await call();
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('A'.repeat(1000));
    next();
    await expect(reader.read()).rejects.toMatchObject({ code: 'internal' });
    await until('the upstream request closed', () => upstreamClosed !== undefined);
    await sleep(100);
    expect([outcomes, failures, upstreamClosed]).toEqual([[{ error: 'internal' }], ['fail.response: transform failed'], true]);
  });

  it("errors the body and settles internal when a transform's flush throws", async () => {
    const failAtEnd: Middleware = {
      name: 'fail-at-end',
      response: (ctx) =>
        void ctx.transform(
          new TransformStream({
            flush: () => {
              throw new Error('flush failed');
            },
          }),
        ),
    };
    const { call, outcomes, failures } = await start({ levels: { route: [failAtEnd] }, upstream: sendText });
    await expect((await call()).text()).rejects.toMatchObject({ code: 'internal' });
    await until('settled', () => outcomes.length > 0);
    expect([outcomes, failures]).toEqual([[{ error: 'internal' }], ['fail-at-end.response: flush failed']]);
  });

  it('errors the body and settles upstream_reset when the upstream dies mid-body behind a transform', async () => {
    const { call, outcomes, failures } = await start({
      levels: { route: [upper()] },
      upstream: (req, res) => {
        res.writeHead(200, { 'content-length': 1000 });
        res.write('x'.repeat(100), () => setImmediate(() => req.socket.destroy()));
      },
    });
    await expect((await call()).text()).rejects.toMatchObject({ code: 'upstream_reset' });
    await until('settled', () => outcomes.length > 0);
    expect([outcomes, failures]).toEqual([[{ error: 'upstream_reset' }], []]);
  });

  it('aborts the upstream and settles client_closed when the client cancels the transformed body', async () => {
    let upstreamClosed: boolean | undefined;
    const { call, outcomes, failures } = await start({
      levels: { route: [upper()] },
      upstream: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('beat\n');
        const beat = setInterval(() => res.write('beat\n'), 50);
        res.on('close', () => {
          clearInterval(beat);
          upstreamClosed = !res.writableFinished;
        });
      },
    });
    const reader = (await call()).body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^BEAT/);
    await reader.cancel(new Error('client left'));
    await until('the upstream request closed', () => upstreamClosed !== undefined);
    expect([outcomes, failures, upstreamClosed]).toEqual([[{ error: 'client_closed' }], [], true]);
  });

  it('delivers the whole transformed body to a client that stops reading for longer than requestTimeout', async () => {
    const body = Buffer.alloc(1024 * 1024, 'slow reader/');
    const { call, outcomes } = await start({ levels: { route: [upper()] }, upstream: (_req, res) => res.end(body), upstreamConfig: { requestTimeout: 500 } });
    const reader = (await call()).body!.getReader();
    let bytes = (await reader.read()).value!.byteLength;
    // Backpressure reaches the relay through the transform: no upstream time counts meanwhile.
    await sleep(1_500);
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) bytes += chunk.value.byteLength;
    expect(bytes).toBe(body.byteLength);
    expect(outcomes).toEqual([{ status: 200 }]);
  });

  it('errors the transformed body of a client that stops reading for good at clientTimeout, settles client_closed and aborts the upstream', async () => {
    let closed!: () => void;
    const upstreamClosed = new Promise<void>((resolve) => (closed = resolve));
    const { call, outcomes } = await start({
      levels: { route: [upper()] },
      upstream: (req, res) => {
        req.resume();
        res.writeHead(200);
        const beat = setInterval(() => res.write('x'.repeat(1024)), 20);
        res.on('close', () => {
          clearInterval(beat);
          closed();
        });
      },
      upstreamConfig: { requestTimeout: 1_000, clientTimeout: 400 },
    });
    const response = await call();
    await upstreamClosed;
    expect(outcomes).toEqual([{ error: 'client_closed' }]);
    await expect(response.text()).rejects.toMatchObject({ code: 'client_closed' });
  });
});
