import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A small upstream that answers with what it received, so curl shows what the gateway sent. */
export const startUpstream = async (name: string): Promise<{ server: Server; url: string }> => {
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      const body = JSON.stringify({ upstream: name, method: req.method, url: req.url, bodyBytes: bytes, headers: req.headers }, null, 2);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${body}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
};
