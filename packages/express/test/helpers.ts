import { createServer, type Server } from 'node:http';
import { createGateway, del, get, post, service, type Gateway, type GatewayOptions } from '@apigate/core';
import { NodeTransport, type NodeTransportLike } from '@apigate/proxy/node';
import { closeServer, listen } from '@apigate/test-utils/http';
import express, { type Express, type RequestHandler } from 'express';
import { expressGateway, renderClientErrors } from '../src/index.ts';

export * from '@apigate/test-utils/http';

/**
 * The `sales` service of the tests: passthrough, static and template rewrites, a `to` with its
 * own query, a POST passthrough and a GET-only path for 405s.
 */
export const salesService = service({ name: 'sales', prefix: '/sales' }, [
  get('/ping'),
  get('/public', { to: '/internal' }),
  get('/item/{id}/review', { to: '/api/v2/reviews/{id}' }),
  get('/search/{term}', { to: '/find/{term}?source=gateway' }),
  get('/latest', { to: '/items?sort=desc' }),
  post('/orders'),
  post('/upload'),
  del('/orders/{id}', { to: '/orders/{id}' }),
]);

/** Builds a gateway over the sales service pointing at the given backend. */
export const salesGateway = (origin: string, options: Omit<GatewayOptions<Record<string, never>>, 'state'> = {}): Gateway<Record<string, never>> =>
  createGateway(options).mount(salesService, [origin]).build();

/** The Node transports the transport suites run against: http-proxy-3's and undici's. */
export const transportNames = ['node', 'undici'] as const;
export type TransportName = (typeof transportNames)[number];


export interface GatewayApp {
  readonly app: Express;
  readonly server: Server;
  readonly port: number;
  readonly middleware: RequestHandler & { readonly transport: NodeTransportLike };
  /** The transport's upstream connections, busy and idle. */
  readonly pool: () => { readonly busy: number; readonly idle: number };
  readonly close: () => Promise<void>;
}

export interface GatewayAppOptions {
  /** Middleware mounted before the gateway (body parsers, ...). */
  readonly before?: readonly RequestHandler[];
  /** Attach renderClientErrors to the server. */
  readonly clientErrors?: boolean;
  /** The gateway's `env` option: what middleware see as `ctx.platform.env`. */
  readonly env?: object;
  /** The transport: UndiciTransport (made by the adapter, the default) or NodeTransport (http-proxy-3, the reference). */
  readonly transport?: TransportName;
}

/**
 * A real Express 5 app: optional middleware, the gateway, then the app's own `GET /own` route;
 * anything else falls to Express's 404.
 */
export const startGateway = async (gateway: Gateway, { before = [], clientErrors = false, env, transport = 'undici' }: GatewayAppOptions = {}): Promise<GatewayApp> => {
  const app = express();
  for (const middleware of before) app.use(middleware);
  const middleware = expressGateway(gateway, { env, transport: transport === 'node' ? new NodeTransport(gateway.upstream) : undefined }) as GatewayApp['middleware'];
  app.use(middleware);
  app.get('/own', (_req, res) => {
    res.type('text/plain').send('own route');
  });
  app.get('/sales/own', (_req, res) => {
    res.type('text/plain').send('own route under the prefix');
  });
  const server = createServer(app);
  if (clientErrors) renderClientErrors(server, gateway);
  const port = await listen(server);
  return {
    app,
    server,
    port,
    middleware,
    pool: () => middleware.transport.connections,
    close: async () => {
      await closeServer(server);
      middleware.transport.close();
    },
  };
};
