// The floor of a Node proxy: node:http's own client with a keep-alive agent and pipe() both ways, no
// library. Not a usable proxy (no header hygiene, no timeouts); it shows what http.request costs.
import { createServer, request } from 'node:http';
import { badGateway, keepAliveAgent, listen, origin, underPrefix } from './shared.ts';

const target = new URL(origin);
const agent = keepAliveAgent();
listen(
  createServer(
    underPrefix((req, res) => {
      const upstream = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers, agent });
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
  ),
);
