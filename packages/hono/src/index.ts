import { isMiddleware, runHook, runStandaloneResponse, runStandaloneSettle, type Gateway, type Hook, type Middleware as GatewayMiddleware, type RuntimePlatform, type StandaloneRequest } from '@apigate/core';
import type { RendererOption } from '@apigate/errors';
import { fetchHandler, toWebResponse, FetchTransport, WebResponseHeaders, type FetchRequestContext } from '@apigate/proxy';
import type { Context, MiddlewareHandler } from 'hono';

/** Which address is the client's; by default Cloudflare's `cf-connecting-ip` on workerd, else none. */
export type ClientIpOf = (c: Context) => string | undefined;

const onWorkerd = typeof navigator !== 'undefined' && navigator.userAgent === 'Cloudflare-Workers';
/**
 * Cloudflare's CF-Connecting-IP on workerd; on @hono/node-server the peer of the Node request's
 * socket (`c.env.incoming`, as Hono's getConnInfo for that server reads it); none elsewhere.
 */
const defaultClientIp: ClientIpOf = (c) => {
  if (onWorkerd) return c.req.header('cf-connecting-ip');
  const address = (c.env as { incoming?: { socket?: { remoteAddress?: unknown } } } | undefined)?.incoming?.socket?.remoteAddress;
  return typeof address === 'string' ? address : undefined;
};

/** The request target as the client sent it, where the runtime keeps it; undefined where it does not. */
export type TargetOf = (c: Context) => string | undefined;

/**
 * @hono/node-server passes the Node request as `c.env.incoming`, whose `url` is the raw target.
 * workerd keeps none (its Request URL is already resolved), and neither do Deno and Bun.
 */
const defaultTarget: TargetOf = (c) => {
  if (onWorkerd) return undefined;
  const url = (c.env as { incoming?: { url?: unknown } } | undefined)?.incoming?.url;
  return typeof url === 'string' ? url : undefined;
};

/** What middleware see as `ctx.platform.env`. */
export type EnvOf = (c: Context) => object;

/**
 * On workerd `c.env` is the Worker's env: its bindings, vars and secrets. Elsewhere it is what the
 * server hands Hono (@hono/node-server's Node request and response, Bun's server), not bindings.
 */
const defaultEnv: EnvOf = (c) => (onWorkerd ? ((c.env as object | undefined) ?? {}) : {});

/** The runtime as middleware see it, from a Hono context: read only when a phase asks. */
class HonoPlatform implements RuntimePlatform {
  readonly #c: Context;
  readonly #env: EnvOf;

  constructor(c: Context, env: EnvOf) {
    this.#c = c;
    this.#env = env;
  }

  get env(): object {
    return this.#env(this.#c);
  }

  get waitUntil(): ((promise: Promise<unknown>) => void) | undefined {
    // @hono/node-server passes its bindings (the Node request and response) and never an execution context.
    if ((this.#c.env as { incoming?: unknown } | undefined)?.incoming !== undefined) return undefined;
    let ctx: Context['executionCtx'];
    // Hono's getter throws where the runtime passed no execution context (Bun, Deno, app.request()),
    // on every request there: an Error whose stack trace was most of its cost, and that no one reads
    // (20 frames deep on Node, 10 µs with it, 1.7 µs without).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      ctx = this.#c.executionCtx;
    } catch {
      // The gateway keeps the work itself.
      return undefined;
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    return (promise) => ctx.waitUntil(promise);
  }
}

export interface HonoGatewayOptions {
  /** The fetch transport; by default one is made from the gateway's upstream config. */
  transport?: FetchTransport;
  clientIp?: ClientIpOf;
  /**
   * What middleware see as `ctx.platform.env`; by default `c.env` on workerd (the Worker's
   * bindings and secrets) and an empty object elsewhere.
   */
  env?: EnvOf;
  /**
   * Where the raw request target comes from, which the gateway matches instead of the Request's
   * parsed URL; by default `c.env.incoming.url` on @hono/node-server, else none.
   */
  target?: TargetOf;
}

type BodyCache = { arrayBuffer?: Promise<ArrayBuffer>; text?: Promise<string>; json?: Promise<unknown>; parsedBody?: Promise<unknown> };

/**
 * What an earlier handler made of the body (c.req.json(), c.req.text(), c.req.parseBody()), when
 * it read it: the raw bytes or text if Hono kept them, else the parsed value.
 */
export const parsedBodyOf = async (c: Context): Promise<FetchRequestContext['parsedBody']> => {
  if (!c.req.raw.bodyUsed) return undefined;
  const cache = (c.req as unknown as { bodyCache: BodyCache }).bodyCache;
  if (cache.arrayBuffer) return { value: new Uint8Array(await cache.arrayBuffer) };
  if (cache.text) return { value: await cache.text };
  if (cache.json) return { value: await cache.json };
  if (cache.parsedBody) return { value: await cache.parsedBody };
  return undefined;
};

/**
 * Hono middleware serving the gateway's routes beside the app's own, through the fetch transport
 * (edge runtimes: Cloudflare Workers, Deno, Bun). On Node with @hono/node-server, use
 * `@apigate/hono/node`, which streams the raw Node request instead.
 * @example
 * const app = new Hono()
 * app.use(honoGateway(gateway))
 * app.get('/health', (c) => c.text('ok'))
 */
export const honoGateway = (gateway: Gateway, { transport, clientIp = defaultClientIp, target = defaultTarget, env = defaultEnv }: HonoGatewayOptions = {}): MiddlewareHandler => {
  const handle = fetchHandler(gateway, transport ?? new FetchTransport(gateway.upstream));
  return async function apigate(c, next) {
    const response = await handle(c.req.raw, { clientIp: clientIp(c), parsedBody: await parsedBodyOf(c), target: target(c), platform: new HonoPlatform(c, env) });
    if (response === undefined) return next();
    return response;
  };
};

export interface HonoMiddlewareOptions {
  /** How a GatewayError the hook raises is rendered; text by default. */
  renderer?: RendererOption;
  /** `context.state` for the hook. */
  state?: object;
  clientIp?: ClientIpOf;
  /** What the middleware sees as `ctx.platform.env`; by default `c.env` on workerd, an empty object elsewhere. */
  env?: EnvOf;
}

type NodeBindings = { incoming?: { headers?: Record<string, string | string[] | undefined> } };

/**
 * Applies an edit to the request's headers. workerd hands the worker a Request whose headers are
 * immutable: the edit then goes to a copy that replaces `c.req.raw` for the later handlers.
 */
const editHeaders = (c: Context, edit: (headers: Headers) => void): void => {
  try {
    edit(c.req.raw.headers);
  } catch (error) {
    if (!(error instanceof TypeError) || !/immutable/i.test(error.message)) throw error;
    c.req.raw = new Request(c.req.raw);
    edit(c.req.raw.headers);
  }
};

/**
 * A Hono request's headers as the hook-facing view; edits change what later handlers see. On
 * @hono/node-server the Request's Headers are a copy of the Node request's, and the Node gateway
 * (`@apigate/hono/node`) forwards the Node request's: edits go to both.
 */
const headersOf = (c: Context) => {
  const node = (c.env as NodeBindings | undefined)?.incoming?.headers;
  return {
    get: (name: string) => c.req.raw.headers.get(name) ?? undefined,
    has: (name: string) => c.req.raw.headers.has(name),
    set: (name: string, value: string) => {
      editHeaders(c, (headers) => headers.set(name, value));
      if (node !== undefined) node[name.toLowerCase()] = value;
    },
    delete: (name: string) => {
      editHeaders(c, (headers) => headers.delete(name));
      if (node !== undefined) delete node[name.toLowerCase()];
    },
  };
};

/**
 * A gateway hook, or a whole middleware, as plain Hono middleware, without a gateway: the hook (or
 * the middleware's request phase) goes on or answers; a middleware's response phase runs on the
 * Response the later handlers made (`c.res`), and its settle phase after it. Behind
 * `@apigate/hono/node`'s gateway, which writes the Node response itself, give the middleware to the
 * gateway's `use` instead. Scope values live in `c.set()`/`c.get()`.
 * @example app.use(honoMiddleware(requireApiKey))
 */
export const honoMiddleware = (hook: Hook | GatewayMiddleware, { renderer, state, clientIp = defaultClientIp, env = defaultEnv }: HonoMiddlewareOptions = {}): MiddlewareHandler => {
  const middleware: GatewayMiddleware = isMiddleware(hook) ? hook : { name: hook.name || 'hook', request: hook };
  const request = middleware.request as Hook | undefined;
  return async function apigateMiddleware(c, next) {
    const url = c.req.url;
    const start = url.indexOf('/', url.indexOf('//') + 2);
    const standalone = {
      method: c.req.method,
      url: start === -1 ? '/' : url.slice(start),
      headers: headersOf(c),
      clientIp: clientIp(c),
      scope: { get: (key: PropertyKey) => c.get(key as never), set: (key: PropertyKey, value: unknown) => c.set(key as never, value as never) },
      state,
      platform: new HonoPlatform(c, env),
    };
    const started = performance.now();
    if (request !== undefined) {
      const result = await runHook(request, standalone, renderer);
      if (!result.next) {
        c.res = toWebResponse(c.req.method, result.response);
        afterResponse(c, middleware, standalone, started);
        return c.res;
      }
    }
    await next();
    afterResponse(c, middleware, standalone, started);
  };
};

/** The response and settle phases of a standalone middleware over `c.res`, once it is made. */
const afterResponse = (c: Context, middleware: GatewayMiddleware, standalone: StandaloneRequest, started: number): void => {
  const res = c.res as Response | undefined;
  if (res === undefined || !(res instanceof Response)) return;
  if (middleware.response !== undefined) {
    // A Response from fetch() has immutable headers: a copy takes the phase's edits.
    const copy = new Response(res.body, res);
    runStandaloneResponse(middleware, standalone, { status: res.status, headers: new WebResponseHeaders(copy.headers) });
    // Hono's `c.res` setter copies the previous response's headers over the new one, which would
    // undo every header the phase replaced or removed (a re-signed Set-Cookie, say): clear it first.
    c.res = undefined as unknown as Response;
    c.res = copy;
  }
  if (middleware.settle !== undefined) runStandaloneSettle(middleware, standalone, { status: res.status, durationMs: performance.now() - started });
};

export { workerGateway, type WorkerGateway, type WorkerGatewayOptions } from './worker.ts';
