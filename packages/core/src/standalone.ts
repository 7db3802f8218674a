import { GatewayError, isGatewayError, isGatewayResponse, renderError, resolveRenderer, toGatewayError, type GatewayResponse, type RendererOption } from '@apigate/errors';
import { callbackReporter } from './guard.ts';
import { noTransform, type Middleware, type ResponseHeaders } from './middleware.ts';
import { Background, RequestPlatform, type Platform, type RuntimePlatform } from './platform.ts';
import type { Hook, RequestContext, RequestHeaders, RouteInfo } from './request.ts';

/** A framework's request, as a hook run outside a gateway sees it. */
export interface StandaloneRequest {
  readonly method: string;
  /** The request target: path and query, as received. */
  readonly url: string;
  readonly headers: RequestHeaders;
  readonly clientIp: string | undefined;
  /** Per-request values, kept where the framework keeps them (res.locals, ctx.state, c.var). */
  readonly scope: { get(key: PropertyKey): unknown; set(key: PropertyKey, value: unknown): void };
  /** App state for `context.state`; an empty object when absent. */
  readonly state?: object;
  /**
   * The runtime's bindings and waitUntil (a Worker's env and ctx), for `context.platform`. Without
   * a runtime waitUntil the promise runs unattended (no gateway waits for it); its rejection is
   * reported on the console.
   */
  readonly platform?: RuntimePlatform | undefined;
}

const reportStandalone = callbackReporter(undefined);
// Outside a gateway nothing shuts down that could wait for this work: it is only kept from
// rejecting unhandled.
const unattended = new Background();

/** The platform a standalone phase sees: the framework's runtime parts, stand-ins for the rest. */
const platformOf = (request: StandaloneRequest): Platform => new RequestPlatform(request.platform, unattended, reportStandalone, undefined);

class StandaloneContext implements RequestContext {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly params: Record<string, string> = {};
  readonly headers: RequestHeaders;
  readonly clientIp: string | undefined;
  readonly route: RouteInfo;
  readonly state: never;
  readonly platform: Platform;
  uri: string;
  readonly #scope: StandaloneRequest['scope'];

  constructor(request: StandaloneRequest) {
    const q = request.url.indexOf('?');
    this.method = request.method;
    this.path = q === -1 ? request.url : request.url.slice(0, q);
    this.query = q === -1 ? '' : request.url.slice(q + 1);
    this.headers = request.headers;
    this.clientIp = request.clientIp;
    this.route = { service: '', method: request.method, path: this.path };
    this.state = (request.state ?? {}) as never;
    this.platform = platformOf(request);
    this.uri = request.url;
    this.#scope = request.scope;
  }

  get(key: PropertyKey): never {
    return this.#scope.get(key) as never;
  }

  set(key: PropertyKey, value: unknown): void {
    this.#scope.set(key, value);
  }
}

/** How a hook run on its own ended: go on, or answer with this response. */
export type StandaloneResult = { readonly next: true } | { readonly next: false; readonly response: GatewayResponse; readonly error: GatewayError | undefined };

/**
 * Runs one hook (an auth check, a request id, ...) outside any gateway, as plain framework
 * middleware does: adapters call it and either go on or send the response. A GatewayError is
 * rendered with `renderer` (text by default).
 */
export const runHook = async (hook: Hook, request: StandaloneRequest, renderer: RendererOption = 'text'): Promise<StandaloneResult> => {
  const context = new StandaloneContext(request);
  let error: GatewayError;
  try {
    const result = await hook(context as RequestContext);
    if (result === undefined) return { next: true };
    if (isGatewayResponse(result)) return { next: false, response: result, error: undefined };
    error = isGatewayError(result) ? result : new GatewayError('internal', { details: { reason: 'a hook returned a value that is neither a response nor a GatewayError' } });
  } catch (thrown) {
    error = toGatewayError(thrown);
  }
  return { next: false, response: renderError(error, { method: context.method, path: context.path }, resolveRenderer(renderer)), error };
};

/** What a framework adapter knows of its response when a standalone middleware's phases run. */
export interface StandaloneResponse {
  readonly status: number;
  readonly headers: ResponseHeaders;
}

/**
 * Runs a middleware's response phase on a framework's response head, outside any gateway: the
 * adapter calls it just before the head is written. A throw is reported once on the console and
 * the response goes on.
 */
export const runStandaloneResponse = (middleware: Middleware, request: StandaloneRequest, response: StandaloneResponse): void => {
  if (middleware.response === undefined) return;
  const q = request.url.indexOf('?');
  const path = q === -1 ? request.url : request.url.slice(0, q);
  try {
    middleware.response({ route: undefined, method: request.method, path, status: response.status, headers: response.headers, gatewayMade: false, error: undefined, transform: noTransform, platform: platformOf(request), get: (key) => request.scope.get(key) });
  } catch (error) {
    reportStandalone({ callback: `${middleware.name}.response`, error, route: undefined });
  }
};

/** Runs a middleware's settle phase when a framework's response ended (status) or was cut (no status). */
export const runStandaloneSettle = (middleware: Middleware, request: StandaloneRequest, ending: { readonly status: number | undefined; readonly durationMs: number }): void => {
  if (middleware.settle === undefined) return;
  const q = request.url.indexOf('?');
  const error = ending.status === undefined ? new GatewayError('client_closed') : undefined;
  try {
    middleware.settle({
      route: undefined,
      method: request.method,
      path: q === -1 ? request.url : request.url.slice(0, q),
      status: ending.status,
      error,
      backend: undefined,
      durationMs: ending.durationMs,
      platform: platformOf(request),
      get: (key) => request.scope.get(key),
    });
  } catch (thrown) {
    reportStandalone({ callback: `${middleware.name}.settle`, error: thrown, route: undefined });
  }
};

/** Whether a value given to `expressMiddleware` and the like is a Middleware rather than a Hook. */
export const isMiddleware = (value: Hook | Middleware): value is Middleware => typeof value === 'object' && value !== null && typeof value.name === 'string';
