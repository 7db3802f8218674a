// The floor of a Node proxy: node:http's own client with a keep-alive agent and pipe() both ways, no
// library. Not a usable proxy (no header hygiene, no timeouts); it shows what http.request costs.
import { createServer, request } from 'node:http';
import { badGateway, keepAliveAgent, listen, origin, prefix } from './shared.ts';

const target = new URL(origin);
const agent = keepAliveAgent();
listen(
  createServer((req, res) => {
    const url = req.url ?? '/';
    if (!url.startsWith(`${prefix}/`)) {
      res.writeHead(404);
      res.end();
      return;
    }
    const upstream = request({ host: target.hostname, port: target.port, path: url.slice(prefix.length), method: req.method, headers: req.headers, agent });
    upstream.on('response', (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    });
    upstream.on('error', () => badGateway(res));
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }),
);
