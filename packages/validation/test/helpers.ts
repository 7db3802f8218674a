import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { Gateway } from '@apigate/core';
import { expressGateway } from '@apigate/express';
import { closeServer, listen, send, type Reply } from '@apigate/test-utils/http';
import express, { type RequestHandler } from 'express';

export { closeServer, eventually, listen, parseHead, send, type Reply, type SendOptions } from '@apigate/test-utils/http';

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

/** A multipart/form-data body with a text field and a binary file part. */
export const multipartBody = (boundary: string, file: Buffer): Buffer =>
  Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nholiday\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
