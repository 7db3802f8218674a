import type { RequestSpec } from './load.ts';

/**
 * A process under test: the origin itself, a second nginx, one Node entry in src/contestants/, or
 * a workerd process serving one Worker of src/workers/.
 */
export interface Contestant {
  id: string;
  label: string;
  kind: 'origin' | 'nginx' | 'node' | 'workerd';
  entry?: string;
  /** For `workerd`: the Worker's module, src/workers/<worker>.ts. */
  worker?: string;
}

const node = (id: string, label: string): Contestant => ({ id, label, kind: 'node', entry: `contestants/${id}.ts` });
/** A Worker run by the workerd binary itself (see workerd.ts), serving what the Node contestant `worker` serves. */
const workerd = (id: string, worker: string, label: string): Contestant => ({ id, label, kind: 'workerd', worker });

export const contestants: readonly Contestant[] = [
  { id: 'direct', label: 'origin direct (nginx)', kind: 'origin' },
  { id: 'nginx', label: 'nginx reverse proxy', kind: 'nginx' },
  node('node-http', 'plain node:http proxy (http.request + pipe, no library)'),
  node('undici-dispatch', "spike: minimal proxy on undici's Pool.dispatch() (no library around it)"),
  node('http-proxy-3', 'bare http-proxy-3 (keep-alive agent)'),
  node('http-proxy-3-tuned', 'http-proxy-3 configured well (preset target object, keep-alive agent)'),
  node('express-http-proxy-3', 'express 5 + bare http-proxy-3'),
  node('koa-http-proxy-3', 'koa 3 + bare http-proxy-3'),
  node('hono-http-proxy-3', 'hono-node + bare http-proxy-3'),
  node('express-hpm', 'express 5 + http-proxy-middleware'),
  node('fast-gateway', 'fast-gateway 3'),
  node('hono-proxy', 'hono-node + hono/proxy'),
  node('fastify-http-proxy', 'fastify 5 + @fastify/http-proxy'),
  // apigate on Node: the ids without `-undici` run on NodeTransport (http-proxy-3), the reference;
  // the `-undici` ones on UndiciTransport, the adapters' default (contestants/apigate-gateway.ts).
  node('apigate-express', 'apigate express'),
  node('apigate-express-fast-lane', 'apigate express fast lane'),
  node('apigate-koa', 'apigate koa'),
  node('apigate-hono-node', 'apigate hono-node'),
  node('apigate-express-undici', 'apigate express, undici transport (default)'),
  node('apigate-koa-undici', 'apigate koa, undici transport (default)'),
  node('apigate-hono-node-undici', 'apigate hono-node, undici transport (default)'),
  node('apigate-express-fast-lane-undici', 'apigate express fast lane, undici transport (default)'),
  node('apigate-hono-fetch', 'apigate hono (fetch transport)'),
  node('apigate-express-middleware', 'apigate express, one no-op middleware at gateway level'),
  node('apigate-express-rate-limit', 'apigate express, rate limit at gateway level (memory store)'),
  node('apigate-express-rate-limit-redis', 'apigate express, rate limit at gateway level (Redis store, local redis-server)'),
  node('apigate-express-routes', 'apigate express, working routes'),
  node('apigate-express-routes-undici', 'apigate express, working routes, undici transport (default)'),
  node('apigate-fast-lane-routes', 'apigate express fast lane, working routes'),
  node('express-zod-hpm', 'express + zod + http-proxy-middleware'),
  node('apigate-express-jwt', 'apigate express, jwt() at gateway level (RS256, remote JWKS cached)'),
  workerd('apigate-hono-fetch-workerd', 'apigate-hono-fetch', 'apigate hono (fetch transport), in workerd'),
  workerd('hono-proxy-workerd', 'hono-proxy', 'hono + hono/proxy, in workerd'),
];

export type WorkloadId = 'tiny' | 'json' | '64k' | 'post1m';

export interface Workload {
  id: WorkloadId;
  title: string;
  request: RequestSpec;
}

const orderJson = JSON.stringify({ sku: 'sku-12345', qty: 3, note: 'leave at the door' });

export const workloads: readonly Workload[] = [
  { id: 'tiny', title: 'GET tiny JSON', request: { method: 'GET', path: '/api/tiny', connections: 50 } },
  { id: 'json', title: `POST ${orderJson.length}-byte JSON order`, request: { method: 'POST', path: '/api/orders', body: { text: orderJson }, contentType: 'application/json', connections: 50 } },
  { id: '64k', title: 'GET 64 KiB body', request: { method: 'GET', path: '/api/64k', connections: 50 } },
  { id: 'post1m', title: 'POST 1 MiB body', request: { method: 'POST', path: '/api/upload', body: { bytes: 1024 * 1024 }, contentType: 'application/octet-stream', connections: 16 } },
];

/** One row of a table: a contestant process serving one workload on one path. */
export interface Case {
  id: string;
  label: string;
  contestant: string;
  workload: WorkloadId;
  path: string;
  tenants?: boolean;
  /** The load sends `Authorization: Bearer <the run's RS256 token>` (see bench-jwt.ts). */
  jwt?: boolean;
}

/** The passthrough contestants: one process each, the same three origin paths under /api. */
export const passthrough = contestants.filter((c) => !['apigate-express-middleware', 'apigate-express-rate-limit', 'apigate-express-rate-limit-redis', 'apigate-express-routes', 'apigate-express-routes-undici', 'apigate-fast-lane-routes', 'express-zod-hpm', 'apigate-express-jwt'].includes(c.id)).map((c) => c.id);

/** In --quick, the 64 KiB and 1 MiB workloads run only these. */
const quickBodies = ['direct', 'http-proxy-3', 'http-proxy-3-tuned', 'apigate-express', 'apigate-express-fast-lane'];

const labelOf = (id: string): string => contestants.find((c) => c.id === id)!.label;

export const casesFor = (quick: boolean): Case[] => {
  const cases: Case[] = [];
  const plain = (workload: WorkloadId, id: string, path: string): void => {
    cases.push({ id, label: labelOf(id), contestant: id, workload, path: id === 'direct' ? path.replace(/^\/api/, '') : path });
  };
  for (const id of passthrough) plain('tiny', id, '/api/tiny');
  plain('tiny', 'apigate-express-middleware', '/api/tiny');
  cases.push({ id: 'apigate-express-jwt', label: labelOf('apigate-express-jwt'), contestant: 'apigate-express-jwt', workload: 'tiny', path: '/api/tiny', jwt: true });
  plain('tiny', 'apigate-express-rate-limit', '/api/tiny');
  plain('tiny', 'apigate-express-rate-limit-redis', '/api/tiny');
  cases.push({ id: 'apigate-routes-passthrough', label: 'apigate express, passthrough route (in the working-routes process)', contestant: 'apigate-express-routes', workload: 'tiny', path: '/api/tiny' });
  cases.push({ id: 'apigate-express-hook', label: 'apigate express, route with a hook (sets a header)', contestant: 'apigate-express-routes', workload: 'tiny', path: '/api/tiny-hook' });
  cases.push({ id: 'apigate-express-sticky', label: 'apigate express, headerSticky over 2 origins', contestant: 'apigate-express-routes', workload: 'tiny', path: '/sticky/tiny', tenants: true });
  plain('json', 'direct', '/api/orders');
  plain('json', 'apigate-express', '/api/orders');
  cases.push({ id: 'apigate-routes-passthrough', label: 'apigate express, passthrough route (in the working-routes process)', contestant: 'apigate-express-routes', workload: 'json', path: '/api/orders-raw' });
  cases.push({ id: 'apigate-express-json', label: 'apigate express, JSON-validated route (zod)', contestant: 'apigate-express-routes', workload: 'json', path: '/api/orders' });
  cases.push({ id: 'apigate-express-json-undici', label: 'apigate express, JSON-validated route (zod), undici transport', contestant: 'apigate-express-routes-undici', workload: 'json', path: '/api/orders' });
  cases.push({ id: 'apigate-express-map', label: 'apigate express, JSON-validated route with a map', contestant: 'apigate-express-routes', workload: 'json', path: '/api/orders-mapped' });
  cases.push({ id: 'apigate-fast-lane-json', label: 'apigate express fast lane, JSON-validated route (zod)', contestant: 'apigate-fast-lane-routes', workload: 'json', path: '/api/orders' });
  plain('json', 'express-zod-hpm', '/api/orders');
  for (const workload of ['64k', 'post1m'] as const) {
    for (const id of passthrough) if (!quick || quickBodies.includes(id)) plain(workload, id, workload === '64k' ? '/api/64k' : '/api/upload');
  }
  return cases;
};

/** A ratio between two cases of one workload; `target` makes it one of the targets. */
export interface Comparison {
  a: string;
  b: string;
  workload: WorkloadId;
  target?: number;
  note: string;
  /**
   * What the verdict is on: req/s (the default), or req per CPU-second of the contestant, for
   * contestants whose CPU time per request is the figure (the workerd ones).
   */
  judge?: 'perCpu';
  /**
   * For the targets measured on both of apigate's Node transports: which one side `a` runs on. Its
   * note names it (transportNames), so that a reader of the targets table sees which row is which.
   */
  transport?: NodeTransportId;
}

export type NodeTransportId = 'node' | 'undici';

/** How the report names apigate's two Node transports in a target's row. */
export const transportNames: Record<NodeTransportId, string> = {
  node: 'NodeTransport (http-proxy-3, the reference)',
  undici: 'UndiciTransport (undici, the default)',
};
const onNode = `on ${transportNames.node}`;
const onUndici = `on ${transportNames.undici}`;

export const comparisons: readonly Comparison[] = [
  { a: 'apigate-express', b: 'express-http-proxy-3', workload: 'tiny', target: 0.9, note: 'apigate passthrough on express ≥ 0.9 × express + bare http-proxy-3' },
  { a: 'apigate-koa', b: 'koa-http-proxy-3', workload: 'tiny', target: 0.9, note: 'apigate passthrough on koa ≥ 0.9 × koa + bare http-proxy-3' },
  { a: 'apigate-hono-node', b: 'hono-http-proxy-3', workload: 'tiny', target: 0.9, note: 'apigate passthrough on hono-node ≥ 0.9 × hono-node + bare http-proxy-3' },
  { a: 'apigate-express-fast-lane', b: 'http-proxy-3', workload: 'tiny', target: 0.9, note: 'fast lane ≥ 0.9 × bare http-proxy-3' },
  // Issue 15's fast-gateway targets on each Node transport: the reference's row first, the default's beneath it.
  { a: 'apigate-koa', b: 'fast-gateway', workload: 'tiny', target: 1.1, transport: 'node', note: `apigate koa ${onNode} ≥ 1.1 × fast-gateway` },
  { a: 'apigate-koa-undici', b: 'fast-gateway', workload: 'tiny', target: 1.1, transport: 'undici', note: `apigate koa ${onUndici} ≥ 1.1 × fast-gateway` },
  { a: 'apigate-hono-node', b: 'fast-gateway', workload: 'tiny', target: 1.1, transport: 'node', note: `apigate hono-node ${onNode} ≥ 1.1 × fast-gateway` },
  { a: 'apigate-hono-node-undici', b: 'fast-gateway', workload: 'tiny', target: 1.1, transport: 'undici', note: `apigate hono-node ${onUndici} ≥ 1.1 × fast-gateway` },
  { a: 'apigate-express-fast-lane', b: 'fast-gateway', workload: 'tiny', target: 1.2, transport: 'node', note: `fast lane ${onNode} ≥ 1.2 × fast-gateway` },
  { a: 'apigate-express-fast-lane-undici', b: 'fast-gateway', workload: 'tiny', target: 1.2, transport: 'undici', note: `fast lane ${onUndici} ≥ 1.2 × fast-gateway` },
  { a: 'apigate-koa', b: 'fast-gateway', workload: '64k', target: 1.1, transport: 'node', note: `apigate koa ${onNode} ≥ 1.1 × fast-gateway, 64 KiB` },
  { a: 'apigate-koa-undici', b: 'fast-gateway', workload: '64k', target: 1.1, transport: 'undici', note: `apigate koa ${onUndici} ≥ 1.1 × fast-gateway, 64 KiB` },
  { a: 'apigate-hono-node', b: 'fast-gateway', workload: '64k', target: 1.1, transport: 'node', note: `apigate hono-node ${onNode} ≥ 1.1 × fast-gateway, 64 KiB` },
  { a: 'apigate-hono-node-undici', b: 'fast-gateway', workload: '64k', target: 1.1, transport: 'undici', note: `apigate hono-node ${onUndici} ≥ 1.1 × fast-gateway, 64 KiB` },
  { a: 'apigate-express-fast-lane', b: 'fast-gateway', workload: '64k', target: 1.2, transport: 'node', note: `fast lane ${onNode} ≥ 1.2 × fast-gateway, 64 KiB` },
  { a: 'apigate-express-fast-lane-undici', b: 'fast-gateway', workload: '64k', target: 1.2, transport: 'undici', note: `fast lane ${onUndici} ≥ 1.2 × fast-gateway, 64 KiB` },
  { a: 'apigate-hono-node', b: 'hono-proxy', workload: 'tiny', target: 3, transport: 'node', note: `apigate hono-node ${onNode} ≥ 3 × hono/proxy` },
  { a: 'apigate-hono-node-undici', b: 'hono-proxy', workload: 'tiny', target: 3, transport: 'undici', note: `apigate hono-node ${onUndici} ≥ 3 × hono/proxy` },
  { a: 'apigate-hono-fetch', b: 'hono-proxy', workload: 'tiny', target: 1, note: 'apigate hono (fetch transport) ≥ 1.0 × hono/proxy, on Node' },
  { a: 'apigate-express-json', b: 'express-zod-hpm', workload: 'json', target: 1.5, transport: 'node', note: `JSON-validated route ${onNode} ≥ 1.5 × express + zod + http-proxy-middleware` },
  { a: 'apigate-express-json-undici', b: 'express-zod-hpm', workload: 'json', target: 1.5, transport: 'undici', note: `JSON-validated route ${onUndici} ≥ 1.5 × express + zod + http-proxy-middleware` },
  { a: 'apigate-express-middleware', b: 'apigate-express', workload: 'tiny', target: 0.95, note: 'a route with one no-op middleware at gateway level ≥ 0.95 × passthrough (apigate express)' },
  { a: 'apigate-express-fast-lane', b: 'http-proxy-3-tuned', workload: 'tiny', note: 'fast lane vs http-proxy-3 configured well through its public API (the reference beside bare http-proxy-3)' },
  { a: 'apigate-express-fast-lane', b: 'http-proxy-3-tuned', workload: '64k', note: 'fast lane vs http-proxy-3 configured well, 64 KiB' },
  { a: 'http-proxy-3-tuned', b: 'http-proxy-3', workload: 'tiny', note: 'http-proxy-3 configured well vs as its README shows it (what a string target costs)' },
  { a: 'apigate-express-jwt', b: 'apigate-express', workload: 'tiny', note: 'a route behind jwt() (RS256, cached remote JWKS) vs passthrough (apigate express): what verifying a token costs' },
  { a: 'apigate-express-rate-limit', b: 'apigate-express', workload: 'tiny', note: 'a rate-limited route, memory store (the allowed path), vs passthrough (apigate express)' },
  { a: 'apigate-express-rate-limit-redis', b: 'apigate-express', workload: 'tiny', note: 'a rate-limited route, Redis store on loopback (the allowed path), vs passthrough (apigate express)' },
  { a: 'apigate-express', b: 'express-hpm', workload: 'tiny', note: 'apigate express vs express + http-proxy-middleware' },
  { a: 'apigate-express-map', b: 'express-zod-hpm', workload: 'json', note: 'validated route with a map vs express + zod + http-proxy-middleware' },
  { a: 'apigate-fast-lane-json', b: 'express-zod-hpm', workload: 'json', note: 'JSON-validated route in the Express fast lane vs express + zod + http-proxy-middleware' },
  { a: 'apigate-routes-passthrough', b: 'express-zod-hpm', workload: 'json', note: 'the same POST passed through unvalidated (apigate express) vs express + zod + http-proxy-middleware: the ceiling of the validated route' },
  { a: 'apigate-express-hook', b: 'apigate-routes-passthrough', workload: 'tiny', note: 'route with a hook vs a passthrough route of the same process' },
  { a: 'apigate-express-sticky', b: 'apigate-routes-passthrough', workload: 'tiny', note: 'headerSticky route vs a passthrough route of the same process' },
  { a: 'apigate-express-json', b: 'apigate-routes-passthrough', workload: 'json', note: 'JSON-validated route vs passthrough of the same POST in the same process' },
  { a: 'apigate-express-map', b: 'apigate-routes-passthrough', workload: 'json', note: 'validated route with a map vs passthrough of the same POST in the same process' },
  { a: 'apigate-express', b: 'express-http-proxy-3', workload: '64k', note: 'apigate express vs express + bare, 64 KiB' },
  { a: 'apigate-express', b: 'express-http-proxy-3', workload: 'post1m', note: 'apigate express vs express + bare, 1 MiB POST' },
  { a: 'apigate-express-fast-lane', b: 'http-proxy-3', workload: '64k', note: 'fast lane vs bare http-proxy-3, 64 KiB' },
  { a: 'apigate-express-fast-lane', b: 'http-proxy-3', workload: 'post1m', note: 'fast lane vs bare http-proxy-3, 1 MiB POST' },
  { a: 'apigate-express', b: 'nginx', workload: 'tiny', note: 'apigate express vs nginx reverse proxy' },
  { a: 'http-proxy-3', b: 'node-http', workload: 'tiny', note: 'bare http-proxy-3 vs plain node:http proxy (what http-proxy-3 itself costs)' },
  { a: 'fast-gateway', b: 'node-http', workload: 'tiny', note: 'fast-gateway vs plain node:http proxy' },
  { a: 'undici-dispatch', b: 'node-http', workload: 'tiny', note: "spike: undici's Pool.dispatch() vs node:http's client, each with nothing around it (issue 15: ≥ 1.15 would make an undici transport worth building)" },
  { a: 'undici-dispatch', b: 'node-http', workload: '64k', note: "spike: undici's Pool.dispatch() vs node:http's client, 64 KiB" },
  { a: 'undici-dispatch', b: 'node-http', workload: 'post1m', note: "spike: undici's Pool.dispatch() vs node:http's client, 1 MiB POST" },
  { a: 'undici-dispatch', b: 'fast-gateway', workload: 'tiny', note: "spike: undici's Pool.dispatch() vs fast-gateway" },
  { a: 'apigate-hono-node', b: 'node-http', workload: 'tiny', note: 'apigate hono-node vs plain node:http proxy' },
  { a: 'apigate-express-undici', b: 'apigate-express', workload: 'tiny', note: 'the undici transport vs NodeTransport (http-proxy-3), apigate express' },
  { a: 'apigate-koa-undici', b: 'apigate-koa', workload: 'tiny', note: 'the undici transport vs NodeTransport (http-proxy-3), apigate koa' },
  { a: 'apigate-hono-node-undici', b: 'apigate-hono-node', workload: 'tiny', note: 'the undici transport vs NodeTransport (http-proxy-3), apigate hono-node' },
  { a: 'apigate-express-fast-lane-undici', b: 'apigate-express-fast-lane', workload: 'tiny', note: 'the undici transport vs NodeTransport (http-proxy-3), fast lane' },
  { a: 'apigate-koa-undici', b: 'apigate-koa', workload: '64k', note: 'the undici transport vs NodeTransport (http-proxy-3), apigate koa, 64 KiB' },
  { a: 'apigate-hono-node-undici', b: 'apigate-hono-node', workload: '64k', note: 'the undici transport vs NodeTransport (http-proxy-3), apigate hono-node, 64 KiB' },
  { a: 'apigate-express-fast-lane-undici', b: 'apigate-express-fast-lane', workload: '64k', note: 'the undici transport vs NodeTransport (http-proxy-3), fast lane, 64 KiB' },
  { a: 'apigate-koa-undici', b: 'apigate-koa', workload: 'post1m', note: 'the undici transport vs NodeTransport (http-proxy-3), apigate koa, 1 MiB POST' },
  { a: 'apigate-hono-node-undici', b: 'apigate-hono-node', workload: 'post1m', note: 'the undici transport vs NodeTransport (http-proxy-3), apigate hono-node, 1 MiB POST' },
  { a: 'apigate-express-fast-lane-undici', b: 'apigate-express-fast-lane', workload: 'post1m', note: 'the undici transport vs NodeTransport (http-proxy-3), fast lane, 1 MiB POST' },
  { a: 'apigate-express-json-undici', b: 'apigate-express-json', workload: 'json', note: 'the undici transport vs NodeTransport (http-proxy-3), JSON-validated route (apigate express)' },
  { a: 'apigate-hono-fetch-workerd', b: 'hono-proxy-workerd', workload: 'tiny', target: 1, judge: 'perCpu', note: 'apigate hono (fetch transport) ≥ 1.0 × hono/proxy, in workerd' },
  { a: 'apigate-hono-fetch-workerd', b: 'hono-proxy-workerd', workload: '64k', note: 'apigate hono (fetch transport) vs hono/proxy, in workerd, 64 KiB' },
  { a: 'apigate-hono-fetch-workerd', b: 'hono-proxy-workerd', workload: 'post1m', note: 'apigate hono (fetch transport) vs hono/proxy, in workerd, 1 MiB POST' },
  { a: 'hono-proxy-workerd', b: 'hono-proxy', workload: 'tiny', note: 'hono/proxy in workerd vs the same app on @hono/node-server (what the runtime costs)' },
];

/**
 * Contestants measured at a steady moderate rate: direct, nginx, the peers and apigate side by side,
 * with the plain node:http proxy (what Node alone gives the tail: the floor of every Node proxy),
 * each apigate adapter's framework + bare http-proxy-3 (what the framework adds to it), and apigate
 * hono-node on the undici transport beside it on NodeTransport.
 */
export const rateContestants = (quick: boolean): string[] =>
  quick
    ? ['direct', 'nginx', 'fast-gateway', 'apigate-express']
    : ['direct', 'nginx', 'node-http', 'http-proxy-3', 'express-http-proxy-3', 'hono-http-proxy-3', 'fast-gateway', 'express-hpm', 'hono-proxy', 'apigate-express', 'apigate-express-undici', 'apigate-express-fast-lane', 'apigate-koa', 'apigate-hono-node', 'apigate-hono-node-undici'];

/**
 * The steady-rate contestants with a target (p99 within 1 ms of direct): apigate express and
 * hono-node on UndiciTransport, the default, and on NodeTransport, the reference.
 */
export const rateTargets: readonly { id: string; subject: string; transport: NodeTransportId }[] = [
  { id: 'apigate-express-undici', subject: 'apigate express', transport: 'undici' },
  { id: 'apigate-express', subject: 'apigate express', transport: 'node' },
  { id: 'apigate-hono-node-undici', subject: 'apigate hono-node', transport: 'undici' },
  { id: 'apigate-hono-node', subject: 'apigate hono-node', transport: 'node' },
];
