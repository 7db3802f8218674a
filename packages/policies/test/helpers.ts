import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Gateway } from '@apigate/core';
import { expressGateway } from '@apigate/express';
import { closeServer, listen } from '@apigate/test-utils/http';
import express from 'express';

export { closeServer, eventually, listen, tcpHandles } from '@apigate/test-utils/http';

/** A named upstream: answers every request with `{ name, url }` after `delayMs`. */
export interface Upstream {
  readonly name: string;
  readonly origin: string;
  /** How long it waits before answering; change it to make it slow or fast again. */
  delayMs: number;
  /** How many requests it answered. */
  readonly hits: () => number;
  /** How many requests it received (answered or not yet). */
  readonly received: () => number;
  readonly close: () => Promise<void>;
}

/** What every upstream answers. */
export interface Answer {
  readonly name: string;
  readonly url: string;
}

/** Starts an upstream that reports its name; `delayMs` later answers take that long. */
export const startUpstream = async (name: string, delayMs = 0): Promise<Upstream> => {
  let hits = 0;
  let received = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    received++;
    req.resume();
    const answer = (): void => {
      hits++;
      const body = JSON.stringify({ name, url: req.url ?? '' } satisfies Answer);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (upstream.delayMs <= 0) {
      answer();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      answer();
    }, upstream.delayMs);
    timers.add(timer);
  });
  const port = await listen(server);
  const upstream: Upstream = {
    name,
    origin: `http://127.0.0.1:${port}`,
    delayMs,
    hits: () => hits,
    received: () => received,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      await closeServer(server);
    },
  };
  return upstream;
};

export interface GatewayApp {
  readonly port: number;
  readonly close: () => Promise<void>;
}

/** A real Express 5 app with the gateway mounted and an own `/own` route behind it. */
export const startGateway = async (gateway: Gateway): Promise<GatewayApp> => {
  const app = express();
  const middleware = expressGateway(gateway);
  app.use(middleware);
  app.get('/own', (_req, res) => {
    res.type('text/plain').send('own route');
  });
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
  readonly json: <T = Answer>() => T;
}

/** A client with a keep-alive agent of its own, so that thousands of requests reuse a few sockets. */
export interface Client {
  readonly send: (path: string, headers?: Readonly<Record<string, string>>) => Promise<Reply>;
  readonly close: () => void;
}

export const client = (port: number): Client => {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  return {
    send: (path, headers = {}) =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
          });
        });
        req.on('error', reject);
        req.end();
      }),
    close: () => agent.destroy(),
  };
};

/** The upstream name that answered a successful request. */
export const nameOf = (reply: Reply): string => {
  if (reply.status !== 200) throw new Error(`expected 200, got ${reply.status}: ${reply.text}`);
  return reply.json().name;
};

/**
 * Sends `total` requests, `concurrency` at a time (each worker sends its next when its previous
 * answered), and counts the answers by upstream name.
 */
export const sendMany = async (send: () => Promise<Reply>, total: number, concurrency: number): Promise<Map<string, number>> => {
  const counts = new Map<string, number>();
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < total) {
      sent++;
      const name = nameOf(await send());
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
};

/** Closes what a test opened, last first. */
export const resources = (): { add: <T extends { close: () => unknown }>(resource: T) => T; closeAll: () => Promise<void> } => {
  let opened: { close: () => unknown }[] = [];
  return {
    add: (resource) => {
      opened.push(resource);
      return resource;
    },
    closeAll: async () => {
      const list = opened.reverse();
      opened = [];
      for (const resource of list) await resource.close();
    },
  };
};
