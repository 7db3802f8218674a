import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createGateway, get, post, service, type Gateway, type GatewayOptions } from '@apigate/core';
import { fetchHandler } from './handler.ts';
import { upstreamFailure } from '@apigate/core/exchange';
import { FetchTransport } from './transport.ts';
import { refusedOrigin } from '@apigate/test-utils/http';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
type Outcome = { status: number } | { error: string };

const servers: Server[] = [];

const startUpstream = async (handler: Handler): Promise<{ origin: string; server: Server }> => {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
};


afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const gatewayTo = (origin: string, outcomes: Outcome[], options: GatewayOptions<Record<string, never>> = {}): Gateway<Record<string, never>> =>
  createGateway({
    ...options,
    observer: {
      upstreamSucceeded: (event) => outcomes.push({ status: event.status }),
      upstreamFailed: (event) => outcomes.push({ error: event.error.code }),
    },
  })
    .mount(service({ name: 'up', prefix: '/up' }, [get('/{path}'), post('/{path}')]), [origin])
    .build();

/** A Content-Length past what the fetch transport reads whole (16 KiB): the body is relayed. */
const largerThanWhole = 64 * 1024;

/** The error a real fetch to `url` fails with. */
const fetchFailure = async (url: string): Promise<unknown> => {
  try {
    await (await fetch(url)).arrayBuffer();
  } catch (error) {
    return error;
  }
  throw new Error(`fetch ${url} did not fail`);
};

describe('upstreamFailure over real fetch failures', () => {
  it('maps a refused connection (Node fetch: cause ECONNREFUSED) to upstream_unreachable', async () => {
    const error = upstreamFailure(await fetchFailure(`${refusedOrigin}/`));
    expect(error.code).toBe('upstream_unreachable');
    expect(error.status).toBe(502);
    expect(error.details).toMatchObject({ upstreamCode: 'ECONNREFUSED' });
  });

  it('maps a connection the upstream resets before responding to upstream_reset', async () => {
    const { origin } = await startUpstream((req) => req.socket.destroy());
    const error = upstreamFailure(await fetchFailure(`${origin}/`));
    expect(error.code).toBe('upstream_reset');
    expect(error.status).toBe(502);
  });

  it("maps workerd's \"Network connection lost.\" to upstream_unreachable", () => {
    const error = upstreamFailure(new Error('Network connection lost.'));
    expect(error.code).toBe('upstream_unreachable');
    expect(error.details).toMatchObject({ reason: 'Network connection lost.' });
  });

  it('maps anything else to bad_gateway, keeping the cause', () => {
    const cause = new TypeError('fetch failed');
    const error = upstreamFailure(cause);
    expect(error.code).toBe('bad_gateway');
    expect(error.cause).toBe(cause);
  });
});

describe('FetchTransport through fetchHandler', () => {
  it('hands over a decoded compressed body without Content-Encoding and Content-Length', async () => {
    const text = 'compressible '.repeat(1000);
    const zipped = gzipSync(text);
    const { origin } = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': zipped.byteLength, etag: '"v1"' });
      res.end(zipped);
    });
    const outcomes: Outcome[] = [];
    const response = await fetchHandler(gatewayTo(origin, outcomes))(new Request('http://gateway.test/up/text'));
    expect(response?.status).toBe(200);
    expect(response?.headers.get('content-encoding')).toBeNull();
    expect(response?.headers.get('content-length')).toBeNull();
    expect(response?.headers.get('etag')).toBe('"v1"');
    expect(await response?.text()).toBe(text);
    expect(outcomes).toEqual([{ status: 200 }]);
  });

  it('passes a redirect through to the client instead of following it', async () => {
    const paths: string[] = [];
    const { origin } = await startUpstream((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(302, { location: '/elsewhere', 'content-length': 0 });
      res.end();
    });
    const outcomes: Outcome[] = [];
    const response = await fetchHandler(gatewayTo(origin, outcomes))(new Request('http://gateway.test/up/old'));
    expect(response?.status).toBe(302);
    expect(response?.headers.get('location')).toBe('/elsewhere');
    await response?.arrayBuffer();
    expect(paths).toEqual(['/old']);
    expect(outcomes).toEqual([{ status: 302 }]);
  });

  it('answers a HEAD and a 204 without a body and settles them', async () => {
    const { origin } = await startUpstream((req, res) => {
      res.writeHead(req.method === 'HEAD' ? 200 : 204, { 'x-seen': req.method ?? '' });
      res.end();
    });
    const outcomes: Outcome[] = [];
    const handle = fetchHandler(gatewayTo(origin, outcomes));
    const head = await handle(new Request('http://gateway.test/up/x', { method: 'HEAD' }));
    expect(head?.status).toBe(200);
    expect(head?.headers.get('x-seen')).toBe('HEAD');
    const empty = await handle(new Request('http://gateway.test/up/x', { method: 'POST', body: '' }));
    expect(empty?.status).toBe(204);
    expect(outcomes).toEqual([{ status: 200 }, { status: 204 }]);
  });

  it('returns undefined for a request that is not a gateway route', async () => {
    const outcomes: Outcome[] = [];
    expect(await fetchHandler(gatewayTo('http://127.0.0.1:1', outcomes))(new Request('http://gateway.test/other'))).toBeUndefined();
  });

  it('answers 504 upstream_timeout for a silent upstream, and the upstream sees the request aborted', async () => {
    let open = 0;
    const { origin } = await startUpstream((req, res) => {
      open++;
      req.resume();
      res.on('close', () => open--);
    });
    const outcomes: Outcome[] = [];
    const gateway = gatewayTo(origin, outcomes, { upstream: { requestTimeout: 150 } });
    const response = await fetchHandler(gateway, new FetchTransport(gateway.upstream))(new Request('http://gateway.test/up/slow'));
    expect(response?.status).toBe(504);
    expect(await response?.text()).toBe('upstream_timeout: The upstream did not respond in time.\n');
    // On a busy machine the timeout may catch the request before it reached the upstream; one
    // that reached it is closed, none is left waiting.
    while (open > 0) await sleep(5);
    expect(outcomes).toEqual([{ error: 'upstream_timeout' }]);
  });

  it('errors the response body, settles upstream_timeout and aborts the upstream, when the upstream goes silent mid-body', async () => {
    let closed!: () => void;
    const upstreamClosed = new Promise<void>((resolve) => (closed = resolve));
    const { origin } = await startUpstream((req, res) => {
      req.resume();
      // The head and a first part at once, then silence until the gateway gives up: the only wait
      // that must fit in requestTimeout is the head's, and the timeout is generous for that. The
      // declared length is past what the transport reads whole, so the body is relayed.
      res.writeHead(200, { 'content-length': largerThanWhole });
      res.write('x'.repeat(100));
      res.on('close', closed);
    });
    const outcomes: Outcome[] = [];
    const response = await fetchHandler(gatewayTo(origin, outcomes, { upstream: { requestTimeout: 1_000 } }))(new Request('http://gateway.test/up/stall'));
    expect(response?.status).toBe(200);
    const reader = response!.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('x'.repeat(100));
    // The client keeps asking: the silence is the upstream's.
    await expect(reader.read()).rejects.toMatchObject({ code: 'upstream_timeout' });
    await upstreamClosed;
    while (outcomes.length === 0) await sleep(5);
    expect(outcomes).toEqual([{ error: 'upstream_timeout' }]);
  });

  it('delivers the whole body to a client that stops reading for longer than requestTimeout, and settles it ok', async () => {
    const body = Buffer.alloc(1024 * 1024, 'slow reader/');
    const { origin } = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': body.byteLength });
      res.end(body);
    });
    const outcomes: Outcome[] = [];
    // Long enough for a response head while other test runs load both cores (500 ms was not).
    const requestTimeout = 2_000;
    const response = await fetchHandler(gatewayTo(origin, outcomes, { upstream: { requestTimeout } }))(new Request('http://gateway.test/up/big'));
    expect(response?.status).toBe(200);
    const reader = response!.body!.getReader();
    let bytes = (await reader.read()).value!.byteLength;
    // The relay is pulled: while the client asks for nothing, nothing moves and no upstream time counts.
    await sleep(2.5 * requestTimeout);
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) bytes += chunk.value.byteLength;
    expect(bytes).toBe(body.byteLength);
    expect(outcomes).toEqual([{ status: 200 }]);
  });

  it('forwards an upload with a Content-Length whose client pauses longer than requestTimeout, keeping its length', async () => {
    const seen: { bytes: number; contentLength?: string; chunked: boolean }[] = [];
    let received = 0;
    const { origin } = await startUpstream((req, res) => {
      req.on('data', (chunk: Buffer) => (received += chunk.byteLength));
      req.on('end', () => {
        seen.push({ bytes: received, contentLength: req.headers['content-length'], chunked: req.headers['transfer-encoding'] !== undefined });
        res.end('stored');
      });
    });
    const outcomes: Outcome[] = [];
    // Long enough for a response head while other test runs load both cores (500 ms was not).
    const requestTimeout = 2_000;
    let client!: ReadableStreamDefaultController<Uint8Array>;
    const upload = new ReadableStream<Uint8Array>({ start: (controller) => void (client = controller) });
    client.enqueue(new Uint8Array(64 * 1024));
    const pending = fetchHandler(gatewayTo(origin, outcomes, { upstream: { requestTimeout } }))(
      new Request('http://gateway.test/up/upload', { method: 'POST', body: upload, duplex: 'half', headers: { 'content-length': String(128 * 1024) } } as RequestInit),
    );
    while (received < 64 * 1024) await sleep(5);
    // The gateway now waits on the client's next bytes: that is not the upstream's silence.
    await sleep(2.5 * requestTimeout);
    client.enqueue(new Uint8Array(64 * 1024));
    client.close();
    const response = await pending;
    expect(response?.status).toBe(200);
    expect(await response?.text()).toBe('stored');
    expect(seen).toEqual([{ bytes: 128 * 1024, contentLength: String(128 * 1024), chunked: false }]);
    expect(outcomes).toEqual([{ status: 200 }]);
  });

  it('answers 408 request_timeout to an upload that stops for good, settles client_closed and aborts the upstream request', async () => {
    let received = 0;
    let closed!: (complete: boolean) => void;
    const upstreamClosed = new Promise<boolean>((resolve) => (closed = resolve));
    const { origin } = await startUpstream((req) => {
      req.on('data', (chunk: Buffer) => (received += chunk.byteLength));
      req.on('close', () => closed(req.complete));
    });
    const outcomes: Outcome[] = [];
    const upload = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new Uint8Array(1024)) });
    const response = await fetchHandler(gatewayTo(origin, outcomes, { upstream: { requestTimeout: 1_000, clientTimeout: 400 } }))(
      new Request('http://gateway.test/up/upload', { method: 'POST', body: upload, duplex: 'half' } as RequestInit),
    );
    expect(response?.status).toBe(408);
    expect(response?.headers.get('connection')).toBe('close');
    expect(await response?.text()).toBe('request_timeout: The request body was not received in time.\n');
    expect(received).toBe(1024);
    expect(await upstreamClosed).toBe(false);
    expect(outcomes).toEqual([{ error: 'client_closed' }]);
  });

  it("aborts the upstream request and settles client_closed when the client's upload fails mid-body", async () => {
    let received = 0;
    let got!: () => void;
    const firstPart = new Promise<void>((resolve) => (got = resolve));
    let closed!: (complete: boolean) => void;
    const upstreamClosed = new Promise<boolean>((resolve) => (closed = resolve));
    const { origin } = await startUpstream((req) => {
      req.on('data', (chunk: Buffer) => {
        received += chunk.byteLength;
        got();
      });
      req.on('close', () => closed(req.complete));
    });
    const outcomes: Outcome[] = [];
    let client!: ReadableStreamDefaultController<Uint8Array>;
    const upload = new ReadableStream<Uint8Array>({
      start(controller) {
        client = controller;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const pending = fetchHandler(gatewayTo(origin, outcomes))(new Request('http://gateway.test/up/upload', { method: 'POST', body: upload, duplex: 'half' } as RequestInit));
    await firstPart;
    // What a runtime's request body does when its client's connection dies mid-upload.
    client.error(new Error('Network connection lost.'));
    const response = await pending;
    expect(response?.status).toBe(499);
    expect(received).toBe(1024);
    expect(await upstreamClosed).toBe(false);
    expect(outcomes).toEqual([{ error: 'client_closed' }]);
  });

  it('errors the body of a client that stops reading for good at clientTimeout, settles client_closed and aborts the upstream', async () => {
    let closed!: () => void;
    const upstreamClosed = new Promise<void>((resolve) => (closed = resolve));
    const { origin } = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200);
      // More than the relay reads ahead, and never ending: only the gateway can close this.
      const beat = setInterval(() => res.write('x'.repeat(1024)), 20);
      res.on('close', () => {
        clearInterval(beat);
        closed();
      });
    });
    const outcomes: Outcome[] = [];
    const response = await fetchHandler(gatewayTo(origin, outcomes, { upstream: { requestTimeout: 1_000, clientTimeout: 400 } }))(new Request('http://gateway.test/up/forever'));
    expect(response?.status).toBe(200);
    await upstreamClosed;
    expect(outcomes).toEqual([{ error: 'client_closed' }]);
    await expect(response?.text()).rejects.toMatchObject({ code: 'client_closed' });
  });

  it("honours a route's own requestTimeout, longer or shorter than the gateway's", async () => {
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const { origin } = await startUpstream((req, res) => {
      req.resume();
      if (req.url === '/short') return;
      arrived();
      void answered.then(() => res.end('late news'));
    });
    const outcomes: Outcome[] = [];
    const gateway = createGateway({
      upstream: { requestTimeout: 200 },
      observer: { upstreamSucceeded: (event) => outcomes.push({ status: event.status }), upstreamFailed: (event) => outcomes.push({ error: event.error.code }) },
    })
      .mount(service({ name: 'poll', prefix: '/poll' }, [get('/long', { upstream: { requestTimeout: 10_000 } }), get('/short', { upstream: { requestTimeout: 100 } })]), [origin])
      .build();
    const handle = fetchHandler(gateway);
    const pending = handle(new Request('http://gateway.test/poll/long'));
    await arrival;
    // Silent for several times the gateway's requestTimeout, well within the route's.
    await sleep(1_000);
    answer();
    const long = await pending;
    expect(long?.status).toBe(200);
    expect(await long?.text()).toBe('late news');
    expect((await handle(new Request('http://gateway.test/poll/short')))?.status).toBe(504);
    expect(outcomes).toEqual([{ status: 200 }, { error: 'upstream_timeout' }]);
  });

  it("passes the client's abort to the upstream and settles client_closed", async () => {
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    let closed!: (finished: boolean) => void;
    const upstreamClosed = new Promise<boolean>((resolve) => (closed = resolve));
    const { origin } = await startUpstream((req, res) => {
      req.resume();
      res.on('close', () => closed(res.writableFinished));
      arrived();
    });
    const outcomes: Outcome[] = [];
    const client = new AbortController();
    const pending = fetchHandler(gatewayTo(origin, outcomes))(new Request('http://gateway.test/up/wait', { signal: client.signal }));
    await arrival;
    client.abort();
    const response = await pending;
    expect(response?.status).toBe(499);
    expect(await upstreamClosed).toBe(false);
    expect(outcomes).toEqual([{ error: 'client_closed' }]);
  });

  it('does not send a request whose client already left (a hook ran long), and settles client_closed', async () => {
    const paths: string[] = [];
    const { origin } = await startUpstream((req, res) => {
      paths.push(req.url ?? '');
      res.end('late');
    });
    const outcomes: Outcome[] = [];
    const client = new AbortController();
    client.abort();
    const response = await fetchHandler(gatewayTo(origin, outcomes))(new Request('http://gateway.test/up/gone', { signal: client.signal }));
    expect(response?.status).toBe(499);
    expect(outcomes).toEqual([{ error: 'client_closed' }]);
    expect(paths).toEqual([]);
  });

  it('errors the response body, and settles upstream_reset, when the upstream dies mid-body', async () => {
    const { origin } = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': largerThanWhole });
      res.write('x'.repeat(100), () => setImmediate(() => req.socket.destroy()));
    });
    const outcomes: Outcome[] = [];
    const response = await fetchHandler(gatewayTo(origin, outcomes))(new Request('http://gateway.test/up/cut'));
    expect(response?.status).toBe(200);
    await expect(response?.text()).rejects.toMatchObject({ code: 'upstream_reset' });
    // The relay settles in its pipe's rejection handler, which may run just after the reader's.
    while (outcomes.length === 0) await sleep(5);
    expect(outcomes).toEqual([{ error: 'upstream_reset' }]);
  });

  // Pieces around the sizes workerd's relay gathers (BYOB reads of up to 64 KiB) and copies (up to 16 KiB);
  // on Node the relay reads them as they come, and the hono-workerd conformance cases cover the BYOB reads.
  const pieceSizes = [1, 100, 16 * 1024, 16 * 1024 + 1, 5, 64 * 1024, 64 * 1024 + 7, 3];
  const patterned = (length: number, seed: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7) % 251);

  it('relays a response body that comes in pieces of every size byte for byte, each piece as soon as it came', async () => {
    const pieces = pieceSizes.map((size, index) => patterned(size, index));
    let next!: () => void;
    const { origin } = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': pieces.reduce((sum, piece) => sum + piece.byteLength, 0) });
      let index = 0;
      // The next piece only once the client has the one before: a relay that waited to fill its buffer would stall here.
      next = () => (index < pieces.length ? res.write(pieces[index++]!) : res.end());
      next();
    });
    const outcomes: Outcome[] = [];
    const response = await fetchHandler(gatewayTo(origin, outcomes))(new Request('http://gateway.test/up/pieces'));
    expect(response?.status).toBe(200);
    const reader = response!.body!.getReader();
    // The chunks themselves are kept to the end: a chunk whose buffer the relay read into again would change.
    const received: Uint8Array[] = [];
    let bytes = 0;
    for (const piece of pieces) {
      const want = bytes + piece.byteLength;
      while (bytes < want) {
        const chunk = await reader.read();
        if (chunk.done) throw new Error(`the body ended after ${bytes} bytes`);
        received.push(chunk.value);
        bytes += chunk.value.byteLength;
      }
      next();
    }
    expect((await reader.read()).done).toBe(true);
    expect(Buffer.concat(received).equals(Buffer.concat(pieces))).toBe(true);
    while (outcomes.length === 0) await sleep(5);
    expect(outcomes).toEqual([{ status: 200 }]);
  });

  it('relays an upload from a byte stream in pieces of every size byte for byte, keeping its length', async () => {
    const pieces = pieceSizes.map((size, index) => patterned(size, index + 1));
    const total = pieces.reduce((sum, piece) => sum + piece.byteLength, 0);
    const seen: { body: Buffer; contentLength?: string }[] = [];
    const { origin } = await startUpstream((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({ body: Buffer.concat(chunks), contentLength: req.headers['content-length'] });
        res.end('stored');
      });
    });
    const outcomes: Outcome[] = [];
    let index = 0;
    // A byte stream, as a Worker's request body is (workerd's relay reads it with BYOB reads; on Node it is read as it comes).
    const upload = new ReadableStream({
      type: 'bytes',
      pull(controller) {
        if (index < pieces.length) controller.enqueue(pieces[index++]!.slice());
        else controller.close();
      },
    });
    const response = await fetchHandler(gatewayTo(origin, outcomes))(
      new Request('http://gateway.test/up/upload', { method: 'POST', body: upload, duplex: 'half', headers: { 'content-length': String(total) } } as RequestInit),
    );
    expect(response?.status).toBe(200);
    expect(await response?.text()).toBe('stored');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.contentLength).toBe(String(total));
    expect(seen[0]!.body.equals(Buffer.concat(pieces))).toBe(true);
    expect(outcomes).toEqual([{ status: 200 }]);
  });

  describe('a small body of a declared length (read whole before answering)', () => {
    it('answers it as bytes with its Content-Length, and settles it ok', async () => {
      // Patterned, so that pieces joined out of place would show.
      const body = Array.from({ length: 16 * 1024 }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join('');
      const { origin } = await startUpstream((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
        // In two writes, the second a while later, so that the gateway has read the first by then
        // (most of the time): the transport reads the whole length, not one chunk, in order.
        res.write(body.slice(0, 100));
        setTimeout(() => res.end(body.slice(100)), 100);
      });
      const outcomes: Outcome[] = [];
      const response = await fetchHandler(gatewayTo(origin, outcomes))(new Request('http://gateway.test/up/small'));
      expect(response?.status).toBe(200);
      expect(response?.headers.get('content-length')).toBe(String(body.length));
      // Settled before the client read a byte: the body was in hand.
      expect(outcomes).toEqual([{ status: 200 }]);
      expect(await response?.text()).toBe(body);
    });

    it('answers the head and what came, errors the body and settles upstream_timeout when the upstream goes silent mid-body, aborting the upstream', async () => {
      let closed!: () => void;
      const upstreamClosed = new Promise<void>((resolve) => (closed = resolve));
      const { origin } = await startUpstream((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-length': 1000 });
        res.write('x'.repeat(100));
        res.on('close', closed);
      });
      const outcomes: Outcome[] = [];
      const response = await fetchHandler(gatewayTo(origin, outcomes, { upstream: { requestTimeout: 1_000 } }))(new Request('http://gateway.test/up/stall'));
      expect(response?.status).toBe(200);
      const reader = response!.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe('x'.repeat(100));
      await expect(reader.read()).rejects.toMatchObject({ code: 'upstream_timeout' });
      await upstreamClosed;
      expect(outcomes).toEqual([{ error: 'upstream_timeout' }]);
    });

    it('answers the head, errors the body and settles upstream_reset when the upstream dies mid-body', async () => {
      const { origin } = await startUpstream((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-length': 1000 });
        res.write('x'.repeat(100), () => setImmediate(() => req.socket.destroy()));
      });
      const outcomes: Outcome[] = [];
      const response = await fetchHandler(gatewayTo(origin, outcomes))(new Request('http://gateway.test/up/cut'));
      expect(response?.status).toBe(200);
      await expect(response?.text()).rejects.toMatchObject({ code: 'upstream_reset' });
      expect(outcomes).toEqual([{ error: 'upstream_reset' }]);
    });
  });
});
