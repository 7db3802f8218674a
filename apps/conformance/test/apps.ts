/**
 * The four adapters' apps, each serving the conformance gateway: no jest here, so that a forked
 * process (test/fixtures/app-process.ts) can start one too.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { expressGateway, renderClientErrors } from '@apigate/express';
import { honoGateway } from '@apigate/hono/node';
import { koaGateway } from '@apigate/koa';
import { NodeTransport, type NodeTransportLike } from '@apigate/proxy/node';
import type { Gateway } from '@apigate/core';
import { connectionsOf } from '@apigate/test-utils/http';
import { build } from 'esbuild';
import express from 'express';
import { Hono } from 'hono';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { buildGateway, platformEnv, platformSecret, type Origins } from '../src/gateway.ts';
import { neutralBuild } from './neutral-build.ts';

export const adapterNames = ['express', 'koa', 'hono-node', 'hono-workerd'] as const;
export type AdapterName = (typeof adapterNames)[number];

/**
 * What a Node adapter shows of the resources it holds: its transport's agent and its server's
 * client connections. workerd holds both out of this process; there, only the upstreams' side
 * and this process's TCP handles can be observed.
 */
export interface NodeProbe {
  /** Upstream sockets in use by the agent, over all hosts. */
  busySockets(): number;
  /** Pooled idle upstream sockets, over all hosts. */
  idleSockets(): number;
  /** Client connections the app's server holds open. */
  clientConnections(): Promise<number>;
}

/** One adapter's app, serving the conformance gateway and an own `/own` route, on a real port. */
export interface Target {
  readonly name: AdapterName;
  readonly base: string;
  /** For the Node adapters; undefined on workerd. */
  readonly node: NodeProbe | undefined;
  close(): Promise<void>;
}

const probeOf = (server: Server, transport: NodeTransportLike): NodeProbe => ({
  busySockets: () => transport.connections.busy,
  idleSockets: () => transport.connections.idle,
  clientConnections: () => connectionsOf(server),
});

const listen = async (server: Server): Promise<string> => {
  if (!server.listening) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => resolve());
    });
  }
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

const stop = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

const ownRoute = 'own route';

/** How an adapter's app is set up besides the gateway. */
export interface AppOptions {
  /** The framework's JSON body parser runs before the gateway (express.json(), @koa/bodyparser, `c.req.json()`). */
  readonly bodyParser?: boolean;
  /**
   * The Node adapters' transport: UndiciTransport (the default, which the adapter makes itself) or
   * NodeTransport (http-proxy-3, the reference). APIGATE_TRANSPORT=node switches a whole run, e.g.
   * `APIGATE_TRANSPORT=node pnpm --filter @apigate/conformance exec jest -t express`.
   */
  readonly transport?: TransportName;
}

export type TransportName = 'node' | 'undici';

/** The transport a Node adapter is given: undefined for UndiciTransport, which the adapter makes itself. */
const transportFor = (name: TransportName | undefined, gateway: Gateway): { transport: NodeTransportLike | undefined } => {
  const chosen = name ?? (process.env.APIGATE_TRANSPORT === 'node' ? 'node' : 'undici');
  return { transport: chosen === 'node' ? new NodeTransport(gateway.upstream) : undefined };
};

const startExpress = async (origins: Origins, { bodyParser: parse = false, transport }: AppOptions): Promise<Target> => {
  const gateway = buildGateway(origins);
  const app = express();
  if (parse) app.use(express.json());
  const handler = expressGateway(gateway, { env: platformEnv(origins), ...transportFor(transport, gateway) });
  app.use(handler);
  app.get('/own', (_req, res) => {
    res.type('text/plain').send(ownRoute);
  });
  const server = renderClientErrors(createServer(app), gateway);
  server.listen(0, '127.0.0.1');
  return {
    name: 'express',
    base: await listen(server),
    node: probeOf(server, handler.transport),
    close: async () => {
      await stop(server);
      handler.transport.close();
    },
  };
};

const startKoa = async (origins: Origins, { bodyParser: parse = false, transport }: AppOptions): Promise<Target> => {
  const gateway = buildGateway(origins);
  const app = new Koa();
  if (parse) app.use(bodyParser());
  const middleware = koaGateway(gateway, { env: platformEnv(origins), ...transportFor(transport, gateway) });
  app.use(middleware);
  app.use((ctx) => {
    if (ctx.method === 'GET' && ctx.path === '/own') {
      ctx.type = 'text/plain';
      ctx.body = ownRoute;
    }
  });
  const server = renderClientErrors(createServer(app.callback()), gateway);
  server.listen(0, '127.0.0.1');
  return {
    name: 'koa',
    base: await listen(server),
    node: probeOf(server, middleware.transport),
    close: async () => {
      await stop(server);
      middleware.transport.close();
    },
  };
};

const startHonoNode = async (origins: Origins, { bodyParser: parse = false, transport }: AppOptions): Promise<Target> => {
  const gateway = buildGateway(origins);
  const app = new Hono();
  if (parse) {
    app.use(async (c, next) => {
      if (c.req.header('content-type')?.startsWith('application/json') === true) await c.req.json();
      await next();
    });
  }
  const middleware = honoGateway(gateway, { env: platformEnv(origins), ...transportFor(transport, gateway) });
  app.use(middleware);
  app.get('/own', (c) => c.text(ownRoute));
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  return {
    name: 'hono-node',
    base: await listen(server),
    node: probeOf(server, middleware.transport),
    close: async () => {
      await stop(server);
      middleware.transport.close();
    },
  };
};

const workerEntry = fileURLToPath(new URL('../src/worker.ts', import.meta.url));

/** Bundles src/worker.ts for workerd. */
export const bundleWorker = async (): Promise<string> => {
  const result = await build({ ...neutralBuild, entryPoints: [workerEntry] });
  return result.outputFiles[0]!.text;
};

/** What workerd wrote to stdout and stderr, for debugging. */
export const workerdOutput: string[] = [];

/** The Worker behind the gateway's BOUND service binding: answers with what it was sent, its `cf` options among it. */
const boundWorker = `export default {
  fetch(request) {
    const cf = request.cf ?? {};
    return Response.json({ worker: 'bound', url: request.url, forwardedFor: request.headers.get('x-forwarded-for'), cf: { cacheTtl: cf.cacheTtl ?? null, cacheKey: cf.cacheKey ?? null } });
  },
};`;

const startWorkerd = async (origins: Origins, { bodyParser: parse = false }: AppOptions): Promise<Target> => {
  // Imported here: loading Miniflare takes over a second, which a process serving a Node adapter
  // (test/fixtures/app-process.ts) need not pay.
  const { Miniflare } = await import('miniflare');
  const mf = new Miniflare({
    workers: [
      {
        name: 'gateway',
        modules: true,
        script: await bundleWorker(),
        // PLATFORM_SECRET stands for a secret (`wrangler secret put`): to the Worker both are env bindings.
        bindings: { ORIGINS: { ...origins }, PARSE_JSON: parse, PLATFORM_SECRET: platformSecret, AUDIT_ORIGIN: platformEnv(origins).AUDIT_ORIGIN },
        // The `/bound` service's backend, `binding://BOUND`: another Worker, reached by no URL.
        serviceBindings: { BOUND: 'bound' },
        // The `/limited-do` limiter's objects: the worker exports the class.
        durableObjects: { RATE_LIMITER: 'RateLimitObject' },
        compatibilityDate: '2025-09-01',
      },
      { name: 'bound', modules: true, script: boundWorker, compatibilityDate: '2025-09-01' },
    ],
    // No fetch of the `Request.cf` object from the network: a fixed placeholder.
    cf: false,
    // workerd logs every errored response stream as an uncaught exception; the fault cases make
    // such streams on purpose. Its output is kept for a failing test to print, not echoed.
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      stdout.on('data', (chunk: Buffer) => workerdOutput.push(chunk.toString()));
      stderr.on('data', (chunk: Buffer) => workerdOutput.push(chunk.toString()));
    },
    host: '127.0.0.1',
    port: 0,
  });
  const url = await mf.ready;
  return {
    name: 'hono-workerd',
    base: url.origin,
    node: undefined,
    close: () => mf.dispose(),
  };
};

const starters: Record<AdapterName, (origins: Origins, options: AppOptions) => Promise<Target>> = {
  express: startExpress,
  koa: startKoa,
  'hono-node': startHonoNode,
  'hono-workerd': startWorkerd,
};

/** Starts one adapter's app over the given upstreams, on a real port. */
export const startApp = (name: AdapterName, origins: Origins, options: AppOptions = {}): Promise<Target> => starters[name](origins, options);

