import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the echo upstream answers: the request as it arrived there. */
export interface Echo {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * A stand-in for a real service: answers every request with what it received, as JSON, so that
 * curl shows what the gateway sent upstream. Listens on loopback, on a free port.
 */
export const startEcho = async (): Promise<{ server: Server; url: string }> => {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const echo: Echo = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(echo, null, 2)}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
};

/**
 * An origin where nothing listens, to show a 502: port 2 on loopback. A port that was free a moment
 * ago could be handed to another server meanwhile; port 2 is below the range the OS hands out for
 * port 0, and not one of the ports fetch() refuses to reach.
 */
export const closedOrigin = (): string => 'http://127.0.0.1:2';
