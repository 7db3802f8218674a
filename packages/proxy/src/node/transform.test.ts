import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type Middleware } from '@apigate/core';
import { nodeHandler } from './bridge.ts';
import { NodeTransport } from './transport.ts';
import { UndiciTransport } from './undici-transport.ts';

type Outcome = { status: number } | { error: string };

const servers: Server[] = [];
const transports: { close(): void }[] = [];

const listen = async (server: Server): Promise<number> => {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

afterEach(async () => {
  for (const server of servers.splice(0).reverse()) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  for (const transport of transports.splice(0)) transport.close();
});

/** Upper-cases ASCII in place: the chunk is the gateway's own. */
const upperChunk = (chunk: Uint8Array): Uint8Array => {
  for (let i = 0; i < chunk.length; i++) if (chunk[i]! >= 97 && chunk[i]! <= 122) chunk[i] = chunk[i]! - 32;
  return chunk;
};

const upper = (name = 'upper'): Middleware => ({
  name,
  response: (ctx) => void ctx.transform(new TransformStream({ transform: (chunk, controller) => controller.enqueue(upperChunk(chunk)) })),
});
/** Appends `|name` once the body has passed: the suffixes' order is the transforms' order. */
const suffix = (name: string): Middleware => ({
  name,
  response: (ctx) => void ctx.transform(new TransformStream({ transform: (chunk, controller) => controller.enqueue(chunk), flush: (controller) => controller.enqueue(new TextEncoder().encode(`|${name}`)) })),
});
/** Throws on the first chunk that holds a `b`. */
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

interface Client {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly end: 'clean' | 'aborted';
}

/** A GET over a fresh connection, read to its end (or its abort). */
const fetchText = (port: number, path: string, method = 'GET', onResponse?: (res: IncomingMessage, abort: () => void) => void): Promise<Client> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      const done = (end: Client['end']): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, end });
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('aborted', () => done('aborted'));
      res.on('error', () => done('aborted'));
      res.on('end', () => done(res.complete ? 'clean' : 'aborted'));
      onResponse?.(res, () => req.destroy());
    });
    req.end();
  });

interface Setup {
  /** Middleware of the gateway, the service and the `/tx/x` route. */
  readonly levels?: { readonly gateway?: Middleware[]; readonly service?: Middleware[]; readonly route?: Middleware[] };
  readonly upstream: (req: IncomingMessage, res: ServerResponse) => void;
  readonly requestTimeout?: number;
}

const startOn = async (transportName: 'node' | 'undici', { levels = {}, upstream, requestTimeout }: Setup) => {
  const origin = `http://127.0.0.1:${await listen(createServer(upstream))}`;
  const outcomes: Outcome[] = [];
  const failures: string[] = [];
  const gateway = createGateway({
    use: levels.gateway ?? [],
    upstream: requestTimeout === undefined ? {} : { requestTimeout },
    observer: {
      upstreamSucceeded: (event) => outcomes.push({ status: event.status }),
      upstreamFailed: (event) => outcomes.push({ error: event.error.code }),
      callbackFailed: (failure) => failures.push(`${failure.callback}: ${(failure.error as Error).message}`),
    },
  })
    .mount(service({ name: 'tx', prefix: '/tx', use: levels.service ?? [] }, [get('/x', { use: levels.route ?? [] })]), [origin])
    .build();
  const handler = nodeHandler(gateway, transportName === 'undici' ? new UndiciTransport(gateway.upstream) : new NodeTransport(gateway.upstream));
  const port = await listen(
    createServer((req, res) =>
      handler(req, res, () => {
        res.statusCode = 404;
        res.end();
      }),
    ),
  );
  const { transport } = handler;
  const busy = (): number =>
    transport instanceof UndiciTransport ? transport.connections.busy : Object.values(transport.httpAgent.sockets).reduce((sum, list) => sum + (list?.length ?? 0), 0);
  transports.push(handler.transport);
  return { port, outcomes, failures, busy };
};

/** Waits (a bounded liveness wait, not a measurement) until `check` holds. */
const until = async (label: string, check: () => boolean): Promise<void> => {
  for (let i = 0; i < 400 && !check(); i++) await sleep(25);
  if (!check()) throw new Error(`never became true: ${label}`);
};

const text = 'hello, transformed world\n'.repeat(4000);
const sendText = (_req: IncomingMessage, res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

describe.each(['node', 'undici'] as const)('the %s transport: response body transforms', (transportName) => {
  const start = (setup: Setup) => startOn(transportName, setup);

  it('streams a proxied body through a route-level transform, chunked, without the upstream Content-Length', async () => {
    const { port, outcomes } = await start({ levels: { route: [upper()] }, upstream: sendText });
    const reply = await fetchText(port, '/tx/x');
    expect([reply.status, reply.end, reply.headers['content-length'], reply.headers['transfer-encoding'], reply.headers['content-type']]).toEqual([200, 'clean', undefined, 'chunked', 'text/plain']);
    expect(reply.body).toBe(text.toUpperCase());
    await until('settled', () => outcomes.length > 0);
    expect(outcomes).toEqual([{ status: 200 }]);
  });

  it("runs the transforms route → service → gateway: each level gets the one inside it's output", async () => {
    // Within a level too, response phases run inside out: upper() (listed last) first.
    const { port } = await start({ levels: { gateway: [suffix('gateway')], service: [suffix('service')], route: [suffix('route'), upper()] }, upstream: sendText });
    const reply = await fetchText(port, '/tx/x');
    expect(reply.body).toBe(`${text.toUpperCase()}|route|service|gateway`);
  });

  it('keeps a Content-Length the middleware sets after its transform (a transform that keeps the length)', async () => {
    const sameLength: Middleware = {
      name: 'same-length',
      response: (ctx) => {
        const length = ctx.headers.get('content-length');
        upper().response!(ctx);
        if (length !== undefined) ctx.headers.set('content-length', length);
      },
    };
    const { port } = await start({ levels: { route: [sameLength] }, upstream: sendText });
    const reply = await fetchText(port, '/tx/x');
    expect([reply.headers['content-length'], reply.headers['transfer-encoding'], reply.body === text.toUpperCase()]).toEqual([String(Buffer.byteLength(text)), undefined, true]);
  });

  it('does not run a transform for HEAD, and keeps the Content-Length', async () => {
    const taken: boolean[] = [];
    const recording: Middleware = { name: 'recording', response: (ctx) => void taken.push(ctx.transform(new TransformStream())) };
    const { port, outcomes } = await start({ levels: { route: [recording] }, upstream: sendText });
    const reply = await fetchText(port, '/tx/x', 'HEAD');
    expect([reply.status, reply.body, reply.headers['content-length'], taken]).toEqual([200, '', String(Buffer.byteLength(text)), [false]]);
    await until('settled', () => outcomes.length > 0);
    expect(outcomes).toEqual([{ status: 200 }]);
  });

  it('aborts the client connection, settles internal once, reports the middleware and closes the upstream request when a transform throws mid-body', async () => {
    let next!: () => void;
    const go = new Promise<void>((resolve) => (next = resolve));
    let upstreamClosed: boolean | undefined;
    const { port, outcomes, failures, busy } = await start({
      levels: { route: [failOnB] },
      upstream: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('a'.repeat(1000));
        // The rest only once the client holds the first part: the response has started.
        void go.then(() => res.write('b'.repeat(1000)));
        res.on('close', () => (upstreamClosed = !res.writableFinished));
      },
    });
    const reply = await fetchText(port, '/tx/x', 'GET', (res) => res.once('data', () => next()));
    expect([reply.status, reply.end, reply.body]).toEqual([200, 'aborted', 'a'.repeat(1000)]);
    await until('the upstream request closed', () => upstreamClosed !== undefined);
    await until('no busy upstream socket', () => busy() === 0);
    // A second settle would show up within this.
    await sleep(100);
    expect([outcomes, failures, upstreamClosed]).toEqual([[{ error: 'internal' }], ['fail.response: transform failed'], true]);
  });

  it("aborts the client connection and settles internal when a transform's flush throws", async () => {
    const failAtEnd: Middleware = {
      name: 'fail-at-end',
      response: (ctx) =>
        void ctx.transform(
          new TransformStream({
            transform: (chunk, controller) => controller.enqueue(chunk),
            flush: () => {
              throw new Error('flush failed');
            },
          }),
        ),
    };
    const { port, outcomes, failures } = await start({ levels: { route: [failAtEnd] }, upstream: sendText });
    const reply = await fetchText(port, '/tx/x');
    expect([reply.status, reply.end]).toEqual([200, 'aborted']);
    await until('settled', () => outcomes.length > 0);
    expect([outcomes, failures]).toEqual([[{ error: 'internal' }], ['fail-at-end.response: flush failed']]);
  });

  it('aborts the client connection and settles upstream_reset when the upstream dies mid-body behind a transform', async () => {
    const { port, outcomes, failures } = await start({
      levels: { route: [upper()] },
      upstream: (req, res) => {
        res.writeHead(200, { 'content-length': 1000 });
        res.write('x'.repeat(100), () => setImmediate(() => req.socket.destroy()));
      },
    });
    const reply = await fetchText(port, '/tx/x');
    expect([reply.status, reply.end]).toEqual([200, 'aborted']);
    await until('settled', () => outcomes.length > 0);
    expect([outcomes, failures]).toEqual([[{ error: 'upstream_reset' }], []]);
  });

  it('closes the upstream request and settles client_closed when the client leaves mid-transform', async () => {
    let upstreamClosed: boolean | undefined;
    const { port, outcomes, failures, busy } = await start({
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
    const reply = await fetchText(port, '/tx/x', 'GET', (res, abort) => res.once('data', abort));
    expect([reply.status, reply.body.startsWith('BEAT')]).toEqual([200, true]);
    await until('the upstream request closed', () => upstreamClosed !== undefined);
    await until('settled', () => outcomes.length > 0);
    await until('no busy upstream socket', () => busy() === 0);
    expect([outcomes, failures, upstreamClosed]).toEqual([[{ error: 'client_closed' }], [], true]);
  });

  it('keeps the plain pipe for a route whose middleware adds no transform', async () => {
    const header: Middleware = { name: 'header', response: (ctx) => ctx.headers.set('x-seen', 'true') };
    const { port } = await start({ levels: { route: [header] }, upstream: sendText });
    const reply = await fetchText(port, '/tx/x');
    expect([reply.headers['content-length'], reply.headers['x-seen'], reply.body === text]).toEqual([String(Buffer.byteLength(text)), 'true', true]);
  });
});
