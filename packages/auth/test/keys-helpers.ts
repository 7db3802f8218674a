import { createServer } from 'node:http';
import { createGateway, service, type Gateway, type Middleware } from '@apigate/core';
import { expressGateway } from '@apigate/express';
import express from 'express';
import { closeServer, echo, listen, send, startUpstream, type Echo, type Reply, type SendOptions, type Upstream } from '@apigate/test-utils/http';

/** The Set-Cookie values the upstream sends on `/set-cookie` paths. */
export const upstreamCookies = ['session=abc123; Path=/; HttpOnly', 'theme=dark; Path=/', 'cart="x1"; Path=/', 'old=; Max-Age=0'];

export interface AuthGateway {
  readonly port: number;
  readonly upstream: Upstream;
  readonly gateway: Gateway;
  /** Upstream sockets the gateway's transport holds in use. */
  busy(): number;
  send(path: string, options?: SendOptions): Promise<Reply>;
  /** A request, and how many requests reached the upstream for it and how many upstream sockets stayed busy. */
  refused(path: string, options?: SendOptions): Promise<{ status: number; code: string | undefined; challenge: string | undefined; upstreamRequests: number; busy: number }>;
  close(): Promise<void>;
}

/**
 * An Express app with the gateway, its `/api` service behind `use` (every path and method forwarded
 * to an echo upstream, which also sets `upstreamCookies` on `/set-cookie` paths), rendered as JSON.
 * A route hook copies what the auth middleware put in scope (`consumer`, `claims`,
 * `signedCookies`) into `x-seen-*` headers, so a case reads them off what the upstream got.
 */
export const startAuthGateway = async (use: Middleware[], { routeUse = [], maxHeaderSize }: { routeUse?: Middleware[]; maxHeaderSize?: number } = {}): Promise<AuthGateway> => {
  const upstream = await startUpstream((req, res, up) => {
    if (req.url?.startsWith('/set-cookie')) res.setHeader('set-cookie', upstreamCookies);
    echo(req, res, up);
  });
  const api = service({ name: 'api', prefix: '/api', use }, ({ all }) => [
    all('/{*rest}', {
      use: routeUse,
      before: (ctx) => {
        for (const key of ['consumer', 'claims', 'signedCookies']) {
          const value = ctx.get(key as never) as unknown;
          if (value !== undefined) ctx.headers.set(`x-seen-${key.toLowerCase()}`, JSON.stringify(value));
        }
      },
    }),
  ]);
  const gateway = createGateway({ renderer: 'json' }).mount(api, [upstream.origin]).build();
  const app = express();
  const handler = expressGateway(gateway);
  app.use(handler);
  const server = createServer({ maxHeaderSize }, app);
  const port = await listen(server);
  const result: AuthGateway = {
    port,
    upstream,
    gateway,
    busy: () => handler.transport.connections.busy,
    send: (path, options) => send(port, path, options),
    refused: async (path, options) => {
      const before = upstream.seen.length;
      const reply = await send(port, path, options);
      return { ...refusal(reply), upstreamRequests: upstream.seen.length - before, busy: handler.transport.connections.busy };
    },
    close: async () => {
      await closeServer(server);
      handler.transport.close();
      await gateway.close();
      await upstream.close();
    },
  };
  return result;
};

/** What a refusal is compared on: status, error code and challenge. */
export const refusal = (reply: Reply): { status: number; code: string | undefined; challenge: string | undefined } => ({
  status: reply.status,
  code: reply.status >= 400 ? reply.json<{ error: { code: string } }>().error.code : undefined,
  challenge: reply.headers['www-authenticate'] as string | undefined,
});

/** What the echo upstream got, for a request that passed. */
export const upstreamSaw = (reply: Reply): Echo => {
  if (reply.status !== 200) throw new Error(`expected 200, got ${reply.status}: ${reply.text}`);
  return reply.json<Echo>();
};

/** A scope value the route hook copied into an `x-seen-*` header. */
export const seenScope = (echoed: Echo, key: 'consumer' | 'claims' | 'signedcookies'): unknown => {
  const value = echoed.headers[`x-seen-${key}`];
  return value === undefined ? undefined : JSON.parse(String(value));
};

/** The request and spared-upstream part of a refusal that never reached the upstream. */
export const spared = { upstreamRequests: 0, busy: 0 };
