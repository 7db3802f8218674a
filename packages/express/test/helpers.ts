import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGateway, del, get, post, service, type Gateway, type GatewayOptions } from '@apigate/core';
import express, { type Express, type RequestHandler } from 'express';
import { expressGateway, renderClientErrors } from '../src/index.ts';

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

const smallBody = 64 * 1024;

/** Reads a request body fully, counting bytes and keeping the text of a small one. */
export const readBody = (req: IncomingMessage): Promise<{ bytes: number; body: string }> =>
  new Promise((resolve, reject) => {
    let bytes = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.byteLength;
      if (bytes <= smallBody) chunks.push(chunk);
    });
    req.on('end', () => resolve({ bytes, body: bytes <= smallBody ? Buffer.concat(chunks).toString('utf8') : '' }));
    req.on('error', reject);
  });

/** The default upstream behaviour: answers 200 with a JSON echo of the request. */
export const echo: UpstreamHandler = (req, res, upstream) => {
  readBody(req).then(({ bytes, body }) => {
    const seen: Echo = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bytes, body };
    upstream.seen.push(seen);
    const payload = JSON.stringify(seen);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    res.end(req.method === 'HEAD' ? undefined : payload);
  }, () => res.destroy());
};

/** Listens on 127.0.0.1, port 0; resolves the port. */
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

/** Starts an upstream server on 127.0.0.1; by default it echoes each request as JSON. */
export const startUpstream = async (handler: UpstreamHandler = echo): Promise<Upstream> => {
  let accepted = 0;
  const seen: Echo[] = [];
  const server = createServer();
  server.on('connection', () => accepted++);
  const port = await listen(server);
  const upstream: Upstream = {
    server,
    port,
    origin: `http://127.0.0.1:${port}`,
    seen,
    connections: () => accepted,
    close: () => closeServer(server),
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => handler(req, res, upstream));
  return upstream;
};

/** A port that nothing listens on (bound once, then released). */
export const freePort = async (): Promise<number> => {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
};

/**
 * The `sales` service of the tests: passthrough, static and template rewrites, a `to` with its
 * own query, a POST passthrough and a GET-only path for 405s.
 */
export const salesService = service({ name: 'sales', prefix: '/sales' }, [
  get('/ping'),
  get('/public', { to: '/internal' }),
  get('/item/{id}/review', { to: '/api/v2/reviews/{id}' }),
  get('/search/{term}', { to: '/find/{term}?source=gateway' }),
  get('/latest', { to: '/items?sort=desc' }),
  post('/orders'),
  post('/upload'),
  del('/orders/{id}', { to: '/orders/{id}' }),
]);

/** Builds a gateway over the sales service pointing at the given backend. */
export const salesGateway = (origin: string, options: Omit<GatewayOptions<Record<string, never>>, 'state'> = {}): Gateway<Record<string, never>> =>
  createGateway(options).mount(salesService, [origin]).build();

export interface GatewayApp {
  readonly app: Express;
  readonly server: Server;
  readonly port: number;
  readonly middleware: ReturnType<typeof expressGateway>;
  readonly close: () => Promise<void>;
}

export interface GatewayAppOptions {
  /** Middleware mounted before the gateway (body parsers, ...). */
  readonly before?: readonly RequestHandler[];
  /** Attach renderClientErrors to the server. */
  readonly clientErrors?: boolean;
}

/**
 * A real Express 5 app: optional middleware, the gateway, then the app's own `GET /own` route;
 * anything else falls to Express's 404.
 */
export const startGateway = async (gateway: Gateway, { before = [], clientErrors = false }: GatewayAppOptions = {}): Promise<GatewayApp> => {
  const app = express();
  for (const middleware of before) app.use(middleware);
  const middleware = expressGateway(gateway);
  app.use(middleware);
  app.get('/own', (_req, res) => {
    res.type('text/plain').send('own route');
  });
  app.get('/sales/own', (_req, res) => {
    res.type('text/plain').send('own route under the prefix');
  });
  const server = createServer(app);
  if (clientErrors) renderClientErrors(server, gateway);
  const port = await listen(server);
  return {
    app,
    server,
    port,
    middleware,
    close: async () => {
      await closeServer(server);
      middleware.transport.close();
    },
  };
};

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

/** Reads a whole response into a Reply. */
const collect = (res: IncomingMessage, resolve: (reply: Reply) => void, reject: (error: Error) => void): void => {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('error', reject);
  res.on('end', () => {
    const buffer = Buffer.concat(chunks);
    const text = buffer.toString('utf8');
    resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buffer, text, json: <T>() => JSON.parse(text) as T });
  });
};

/** One HTTP request on its own connection (no pooling on the client side). */
export const send = (port: number, path: string, { method = 'GET', headers = {}, body }: SendOptions = {}): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => collect(res, resolve, reject));
    req.on('error', reject);
    req.end(body);
  });

const uploadChunk = Buffer.alloc(64 * 1024, 'apigate-');

/**
 * POSTs `total` bytes generated from one reused 64 KiB buffer, waiting for 'drain' whenever the
 * socket is full, so the upload never sits in this process's memory.
 */
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

/** Sends exact bytes on a fresh socket and resolves everything the server wrote until it closed. */
export const rawRequest = (port: number, bytes: string | Buffer): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A server that refuses a request may reset the connection after answering.
      if (error.code === 'ECONNRESET' && chunks.length > 0) return;
      reject(error);
    });
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(bytes);
  });

/** Parses the status and headers of a raw HTTP/1.1 response. */
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
export const eventually = async (label: string, check: () => boolean | Promise<boolean>, attempts = 200): Promise<void> => {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error(`never became true: ${label}`);
};

/** The number of open connections a server holds. */
export const connectionsOf = (server: Server): Promise<number> =>
  new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

/** TCP handles (sockets and servers) alive in this process. */
export const tcpHandles = (): number => process.getActiveResourcesInfo().filter((name) => name.startsWith('TCP')).length;

/** In-use (not idle) sockets of an agent, over all its hosts. */
export const busySockets = (agent: { sockets: NodeJS.ReadOnlyDict<unknown[]> }): number =>
  Object.values(agent.sockets).reduce((sum, list) => sum + (list?.length ?? 0), 0);
