import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Gateway } from '@apigate/core';
import { expressGateway } from '@apigate/express';
import express, { type RequestHandler } from 'express';

/** What the recording upstream saw of one request. */
export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface Upstream {
  readonly origin: string;
  /** Every request the upstream received, in order. */
  readonly seen: Seen[];
  /** The last request the upstream received; throws when there was none. */
  readonly last: () => Seen;
  readonly close: () => Promise<void>;
}

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

/** An upstream that records each request (body bytes kept) and answers 200 `{"ok":true}`. */
export const startUpstream = async (): Promise<Upstream> => {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 11 });
      res.end(req.method === 'HEAD' ? undefined : '{"ok":true}');
    });
  });
  const port = await listen(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    seen,
    last: () => {
      const request = seen.at(-1);
      if (request === undefined) throw new Error('the upstream saw no request');
      return request;
    },
    close: () => closeServer(server),
  };
};

export interface GatewayApp {
  readonly port: number;
  readonly close: () => Promise<void>;
}

/** A real Express 5 app: `before` middleware (body parsers, ...), then the gateway, then Express's 404. */
export const startGateway = async (gateway: Gateway, before: readonly RequestHandler[] = []): Promise<GatewayApp> => {
  const app = express();
  for (const middleware of before) app.use(middleware);
  const middleware = expressGateway(gateway);
  app.use(middleware);
  const server = createServer(app);
  const port = await listen(server);
  return {
    port,
    close: async () => {
      await closeServer(server);
      middleware.transport.close();
    },
  };
};

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
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
    const text = Buffer.concat(chunks).toString('utf8');
    resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
  });
};

/** One HTTP request on its own connection. */
export const send = (port: number, path: string, { method = 'GET', headers = {}, body }: SendOptions = {}): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => collect(res, resolve, reject));
    req.on('error', reject);
    req.end(body);
  });

/** POSTs JSON text as-is. */
export const postJson = (port: number, path: string, body: string | Buffer, contentType = 'application/json'): Promise<Reply> =>
  send(port, path, { method: 'POST', headers: { 'content-type': contentType }, body });

export interface RawExchange {
  /** Everything the server wrote, as latin1. */
  readonly text: string;
  /** True when the server closed the connection (rather than the test giving up). */
  readonly closedByServer: boolean;
}

/**
 * Writes `head`, then `body` in pieces (if any), and resolves what the server wrote once it closes
 * the socket or `wait` ms pass after the last byte arrived.
 */
export const rawExchange = (port: number, head: string, { body, wait = 2000 }: { body?: Buffer; wait?: number } = {}): Promise<RawExchange> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (closedByServer: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closedByServer });
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), wait);
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      arm();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A server that refuses a body may reset the connection while it is still being written.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') finish(true);
      else if (!settled) reject(error);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.write(head);
    if (body !== undefined) socket.write(body);
    arm();
  });

/** Parses the status, headers and body of a raw HTTP/1.1 response. */
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
export const eventually = async (label: string, check: () => boolean, attempts = 200): Promise<void> => {
  for (let i = 0; i < attempts; i++) {
    if (check()) return;
    await sleep(10);
  }
  throw new Error(`never became true: ${label}`);
};

/** A multipart/form-data body with a text field and a binary file part. */
export const multipartBody = (boundary: string, file: Buffer): Buffer =>
  Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nholiday\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
