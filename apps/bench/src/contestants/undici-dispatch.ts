// The spike of issue 15: a minimal proxy on undici's low-level dispatcher (a Pool per backend,
// dispatch() with a handler that writes straight to the Node response, pause/resume for
// backpressure, abort when the client leaves). Not a usable proxy — no header hygiene beyond what
// undici refuses, no timeouts of its own — it shows what node:http's client costs against undici's.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { badGateway, listen, origin, underPrefix } from './shared.ts';

const pool = new Pool(origin, { connections: 256, pipelining: 1 });

// undici refuses these in a request; a proxy drops them anyway (hop-by-hop).
const refused = new Set(['connection', 'keep-alive', 'upgrade', 'transfer-encoding', 'expect', 'proxy-connection']);
const requestHeaders = (headers: IncomingHttpHeaders): Record<string, string | string[]> => {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !refused.has(name)) out[name] = value;
  }
  return out;
};

const forward = (req: IncomingMessage, res: ServerResponse): void => {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  let control: Dispatcher.DispatchController | undefined;
  res.on('close', () => {
    if (!res.writableFinished) control?.abort(new Error('the client left'));
  });
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(controller) {
      control = controller;
    },
    onResponseStart(controller, statusCode, headers) {
      delete headers.connection;
      delete headers['keep-alive'];
      delete headers['transfer-encoding'];
      res.writeHead(statusCode, headers);
      // The client reads slower than the upstream sends: stop reading the upstream until it drains.
      res.on('drain', () => controller.resume());
    },
    onResponseData(controller, chunk) {
      if (!res.write(chunk)) controller.pause();
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_controller, error) {
      void error;
      badGateway(res);
    },
  };
  pool.dispatch({ origin, path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers: requestHeaders(req.headers), body: hasBody ? req : null }, handler);
};

listen(createServer(underPrefix(forward)));
