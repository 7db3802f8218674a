// bare http-proxy-3 in node:http: strip the prefix, forward.
import { createServer } from 'node:http';
import { bareProxy } from './bare-proxy.ts';
import { listen, prefix } from './shared.ts';

const forward = bareProxy();
listen(
  createServer((req, res) => {
    const url = req.url ?? '/';
    if (!url.startsWith(`${prefix}/`)) {
      res.writeHead(404);
      res.end();
      return;
    }
    req.url = url.slice(prefix.length);
    forward(req, res);
  }),
);
