import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RouteInput } from '@apigate/core';
import { GatewayError } from '@apigate/errors';

/** What the echo upstream saw of one request. */
export interface Echo {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Raw header names and values in arrival order. */
  readonly rawHeaders: readonly string[];
  readonly bytes: number;
  /** The body as UTF-8 when it is small; '' for large bodies. */
  readonly body: string;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, upstream: Upstream) => void;

export interface Upstream {
  readonly server: Server;
  readonly port: number;
  readonly origin: string;
  /** Every request the upstream received, in order. */
  readonly seen: Echo[];
  /** How many TCP connections the upstream accepted. */
  readonly connections: () => number;
  readonly close: () => Promise<void>;
}

/** Reads a request body fully: its size and, for small bodies, its UTF-8 text. */
export const readBody = (req: IncomingMessage): Promise<{ bytes: number; body: string }> =>
  new Promise((resolve, reject) => {
    let bytes = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.byteLength;
      if (bytes <= 64 * 1024) chunks.push(chunk);
    });
    req.on('end', () => resolve({ bytes, body: bytes <= 64 * 1024 ? Buffer.concat(chunks).toString('utf8') : '' }));
    req.on('error', reject);
  });

/** Answers 200 with a JSON echo of the request. */
export const echo: UpstreamHandler = (req, res, upstream) => {
  readBody(req).then(({ bytes, body }) => {
    const seen: Echo = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bytes, body };
    upstream.seen.push(seen);
    const payload = JSON.stringify(seen);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    res.end(req.method === 'HEAD' ? undefined : payload);
  }, () => res.destroy());
};

export const listen = (server: Server): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

/** Closes a server and every connection it still holds. */
export const closeServer = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    if (!server.listening) {
      server.closeAllConnections();
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });

export const startUpstream = async (handler: UpstreamHandler = echo): Promise<Upstream> => {
  let accepted = 0;
  const seen: Echo[] = [];
  const server = createServer();
  server.on('connection', () => accepted++);
  const port = await listen(server);
  const upstream: Upstream = { server, port, origin: `http://127.0.0.1:${port}`, seen, connections: () => accepted, close: () => closeServer(server) };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => handler(req, res, upstream));
  return upstream;
};

/**
 * A port free a moment ago (bound once, then released), for a server to listen on. Not for an
 * upstream that refuses connections: another test's server may be given it meanwhile; use
 * `refusedOrigin` for that.
 */
export const freePort = async (): Promise<number> => {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
};

/**
 * An origin that refuses connections: port 2 on loopback lies below the range the OS hands out for
 * port 0, so no test's server is ever given it, and fetch() does not refuse to reach it (port 1 is
 * one of its "bad ports").
 */
export const refusedOrigin = 'http://127.0.0.1:2';

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
  readonly json: <T = Record<string, unknown>>() => T;
}

export interface SendOptions {
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: string | Buffer;
}

const collect = (res: IncomingMessage, resolve: (reply: Reply) => void, reject: (error: Error) => void): void => {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('error', reject);
  res.on('end', () => {
    const body = Buffer.concat(chunks);
    const text = body.toString('utf8');
    resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: <T>() => JSON.parse(text) as T });
  });
};

/** A chunked upload of `parts` on its own connection: a body the gateway streams and cannot hold. */
export const sendChunked = (port: number, path: string, parts: readonly string[], headers: OutgoingHttpHeaders = { 'content-type': 'text/plain' }): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => collect(res, resolve, reject));
    req.on('error', reject);
    for (const part of parts) req.write(part);
    req.end();
  });

/** One HTTP request on its own connection. */
export const send = (port: number, path: string, { method = 'GET', headers = {}, body }: SendOptions = {}): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => collect(res, resolve, reject));
    req.on('error', reject);
    req.end(body);
  });

const uploadChunk = Buffer.alloc(64 * 1024, 'apigate-');

/** POSTs `total` generated bytes, honouring back-pressure, so the upload never sits in memory. */
export const streamUpload = (port: number, path: string, total: number): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path, agent: false, headers: { 'content-type': 'application/octet-stream', 'content-length': total } },
      (res) => collect(res, resolve, reject),
    );
    req.on('error', reject);
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const piece = total - sent >= uploadChunk.byteLength ? uploadChunk : uploadChunk.subarray(0, total - sent);
        sent += piece.byteLength;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });

/** Sends exact bytes on a fresh socket; resolves everything the server wrote until it closed. */
export const rawRequest = (port: number, bytes: string | Buffer, onData?: (received: string) => void): Promise<string> =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      onData?.(received);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received));
    socket.write(bytes);
  });

/** The status, headers and body of a raw HTTP/1.1 response. */
export const parseHead = (raw: string): { status: number; headers: Record<string, string>; body: string } => {
  const end = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = raw.slice(0, end === -1 ? raw.length : end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: end === -1 ? '' : raw.slice(end + 4) };
};

/** Polls a condition until it holds; throws with the label if it never does. */
export const eventually = async (label: string, check: () => boolean | Promise<boolean>, attempts = 300): Promise<void> => {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error(`never became true: ${label}`);
};

export const connectionsOf = (server: Server): Promise<number> =>
  new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

/** TCP handles (sockets and servers) alive in this process. */
export const tcpHandles = (): number => process.getActiveResourcesInfo().filter((name) => name.startsWith('TCP')).length;

/** In-use sockets of an agent, over all its hosts. */
export const busySockets = (agent: { sockets: NodeJS.ReadOnlyDict<unknown[]> }): number =>
  Object.values(agent.sockets).reduce((sum, list) => sum + (list?.length ?? 0), 0);

/**
 * A route input stage that reads a JSON body as @apigate/validation's `json` option does (the
 * parsed body a body parser left, else the bytes up to the limit) and checks it. @apigate/validation
 * is not a dependency of this package, so the tests bring this stand-in through core's RouteInput.
 */
export const checkedJson = (check: (value: unknown) => boolean, seen: unknown[] = []): RouteInput => ({
  async run(context) {
    const body = context.body;
    if (body === undefined) throw new GatewayError('internal');
    let value: unknown;
    if (body.parsed !== undefined) {
      if (body.contentLength !== undefined && body.contentLength > context.bodyLimit) throw new GatewayError('payload_too_large');
      value = body.parsed.value;
      if (typeof value === 'string') value = JSON.parse(value);
    } else {
      const bytes = await body.read(context.bodyLimit);
      try {
        value = JSON.parse(new TextDecoder().decode(bytes));
      } catch (cause) {
        throw new GatewayError('invalid_json', { cause });
      }
    }
    seen.push(value);
    if (!check(value)) throw new GatewayError('validation_failed');
  },
});

/** What a flooding upstream shows of the response it is writing. */
export interface Flood {
  /** Bytes written so far. */
  readonly written: () => number;
  /** 'drain' events so far. */
  readonly drains: () => number;
  /** Whether the last write is waiting for 'drain': the reader is taking nothing. */
  readonly waiting: () => boolean;
  /** Resolves true when the whole body was written and ended, false if the response closed first. */
  readonly finished: Promise<boolean>;
}

const floodChunk = Buffer.alloc(64 * 1024, 'flood/');

/**
 * Writes a 200 with `total` generated bytes, honouring back-pressure: for a client that stops
 * reading, the upstream ends up waiting for 'drain', and `untilStuck` can tell when it is.
 */
export const flood = (res: ServerResponse, total: number): Flood => {
  let written = 0;
  let drains = 0;
  let waiting = false;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  const finished = new Promise<boolean>((resolve) => {
    res.on('close', () => resolve(res.writableFinished));
    const pump = (): void => {
      waiting = false;
      while (written < total && !res.destroyed) {
        const piece = total - written >= floodChunk.byteLength ? floodChunk : floodChunk.subarray(0, total - written);
        written += piece.byteLength;
        if (!res.write(piece)) {
          waiting = true;
          res.once('drain', () => {
            drains++;
            pump();
          });
          return;
        }
      }
      res.end();
    };
    pump();
  });
  return { written: () => written, drains: () => drains, waiting: () => waiting, finished };
};

/**
 * Resolves once the flood has been stuck (waiting for a 'drain' that did not come) for `quiet` ms:
 * every buffer between it and the client is full, and the gateway reads nothing from it. A bounded
 * wait for a state, not a measurement.
 */
export const untilStuck = async (flooding: Flood, quiet: number, attempts = 100): Promise<void> => {
  for (let i = 0; i < attempts; i++) {
    if (!flooding.waiting()) {
      await sleep(10);
      continue;
    }
    const drains = flooding.drains();
    await sleep(quiet);
    if (flooding.waiting() && flooding.drains() === drains) return;
  }
  throw new Error('never became true: the upstream is stuck behind a client that does not read');
};

/** How a download that the client paused ended. */
export interface PausedDownload {
  /** The response status, once the head is in (the body is paused from then on). */
  readonly status: Promise<number>;
  /** Starts reading again; resolves the bytes read and whether the body arrived whole. */
  readonly resume: () => Promise<{ bytes: number; complete: boolean }>;
  /** Resolves when the connection closed, whatever the client did. */
  readonly closed: Promise<{ bytes: number; complete: boolean }>;
}

/** A GET whose client takes the head, then reads nothing until told to resume. */
export const pausedDownload = (port: number, path: string): PausedDownload => {
  let bytes = 0;
  let complete = false;
  let startReading!: () => void;
  const reading = new Promise<void>((resolve) => (startReading = resolve));
  let gotStatus!: (status: number) => void;
  const status = new Promise<number>((resolve) => (gotStatus = resolve));
  const closed = new Promise<{ bytes: number; complete: boolean }>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.pause();
      gotStatus(res.statusCode ?? 0);
      res.on('data', (chunk: Buffer) => (bytes += chunk.byteLength));
      res.on('end', () => (complete = res.complete));
      res.on('error', () => undefined);
      res.on('close', () => resolve({ bytes, complete }));
      void reading.then(() => res.resume());
    });
    req.on('error', () => resolve({ bytes, complete }));
    req.on('close', () => gotStatus(0));
    req.end();
  });
  return {
    status,
    resume: () => {
      startReading();
      return closed;
    },
    closed,
  };
};

/** An upload that the client pauses after its first part. */
export interface PausedUpload {
  /** Sends the rest of the body and ends it. */
  readonly finish: () => void;
  /** The reply, or the error code if the connection ended without one. */
  readonly reply: Promise<Reply | { error: string }>;
}

/** POSTs `first` bytes of a declared `first + rest`, then sends nothing until `finish()`. */
export const pausedUpload = (port: number, path: string, first: number, rest: number): PausedUpload => {
  let req!: ReturnType<typeof request>;
  const reply = new Promise<Reply | { error: string }>((resolve) => {
    req = request(
      { host: '127.0.0.1', port, method: 'POST', path, agent: false, headers: { 'content-type': 'application/octet-stream', 'content-length': first + rest } },
      (res) => collect(res, resolve, (error) => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message })),
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
  req.write(Buffer.alloc(first, 'first/'));
  return { finish: () => req.end(Buffer.alloc(rest, 'rest/')), reply };
};
