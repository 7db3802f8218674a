import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A received body as the echo shows it: parsed when it is JSON, left out when empty. */
const shown = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text === '' ? undefined : text;
  }
};

/** A small upstream that answers with what it received, so curl shows what the gateway sent. */
export const startUpstream = async (name: string): Promise<{ server: Server; url: string }> => {
  const server = createServer((req, res) => {
    if (req.url === '/moved') {
      // A redirect and a cookie in the upstream's own terms: its origin, its domain, its root path.
      res.writeHead(302, { location: `http://${req.headers.host ?? ''}/welcome`, 'set-cookie': 'session=1; Domain=sales.internal; Path=/; HttpOnly', 'content-length': 0 });
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received = Buffer.concat(chunks);
      const echo = { upstream: name, method: req.method, url: req.url, bodyBytes: received.length, body: shown(received.toString()), headers: req.headers };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(echo, null, 2)}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
};
