import { Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// Every contestant is started by the harness with ORIGIN (and ORIGIN_B, a second port of the same
// origin) in its environment, listens on a free loopback port and prints `{"port":N}` once ready.

const required = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set: contestants are started by src/main.ts`);
  return value;
};

/** The origin's base URL, e.g. http://127.0.0.1:41234. */
export const origin = required('ORIGIN');
/** A second listener of the same origin, for the two-backend (sticky) route. */
export const originB = process.env.ORIGIN_B ?? origin;

/** The public prefix every contestant serves; the origin sees the path without it. */
export const prefix = '/api';

/** A keep-alive agent such as users are told to give http-proxy-3 (it pools nothing by default). */
export const keepAliveAgent = (): Agent => new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });

/** A request listener that answers 404 outside the prefix and hands the rest, prefix stripped, to `forward`. */
export const underPrefix =
  (forward: (req: IncomingMessage, res: ServerResponse) => void) =>
  (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    if (!url.startsWith(`${prefix}/`)) {
      res.writeHead(404);
      res.end();
      return;
    }
    req.url = url.slice(prefix.length);
    forward(req, res);
  };

/** Tells the harness which port the server listens on. */
export const announce = (port: number): void => {
  process.stdout.write(`${JSON.stringify({ port })}\n`);
};

/** Listens on a free loopback port and announces it. */
export const listen = (server: Server): void => {
  server.listen(0, '127.0.0.1', () => announce((server.address() as AddressInfo).port));
};

/** A 502 for a proxy error, unless the response already started (then the socket is dropped). */
export const badGateway = (res: { headersSent: boolean; writeHead(status: number): unknown; end(): unknown; destroy(): unknown }): void => {
  if (res.headersSent) res.destroy();
  else {
    res.writeHead(502);
    res.end();
  }
};

process.on('SIGTERM', () => process.exit(0));
