import type { ForwardPlan, Gateway, Plan, RequestHeaders, RequestIO, RuntimePlatform } from '@apigate/core';
import { GatewayError, toGatewayError } from '@apigate/errors';
import { connectionDropped, hopByHop, hopByHopButFraming, outgoingBody, transferCodingRefusal, trustMatcher, type BodyState } from '@apigate/core/exchange';
import { WebBodySource } from './body.ts';
import { toWebResponse } from './response.ts';
import { hasRuntimeBody, IdentityTransformStream } from './runtime-streams.ts';
import { FetchTransport, pathStart } from './transport.ts';

/** What the host knows of a request besides the Request itself. */
export interface FetchRequestContext {
  /** The client's address, when the runtime tells it. */
  readonly clientIp?: string | undefined;
  /** The body the host framework already read and parsed, when the Request's body is used. */
  readonly parsedBody?: { readonly value: unknown } | undefined;
  /**
   * The request target exactly as the client sent it (`/a/%2e%2e/b?q`, or absolute-form), when the
   * host has it (on @hono/node-server, `incoming.url`). A Request's URL went through the WHATWG URL
   * parser, which resolves `.`, `..` and `%2e%2e` and reads a backslash as `/`; the gateway matches this
   * instead, so that a request cannot reach a service its raw target does not name.
   */
  readonly target?: string | undefined;
  /**
   * The runtime's bindings and waitUntil, for middleware (`ctx.platform`): on Workers the
   * request's `env` and `ctx.waitUntil`. Without a waitUntil the gateway keeps such work itself.
   */
  readonly platform?: RuntimePlatform | undefined;
}

/** Serves gateway routes from a Web Request; undefined means not a gateway route. */
export type FetchHandler = (request: Request, context?: FetchRequestContext) => Promise<Response | undefined>;

const bodyless = new Set(['GET', 'HEAD']);

class WebHeaders implements RequestHeaders {
  readonly #headers: Headers;
  /** Whether a hook or middleware set a hop-by-hop header, which the transport must then drop. */
  hopByHopSet = false;
  constructor(headers: Headers) {
    this.#headers = headers;
  }
  get(name: string): string | undefined {
    return this.#headers.get(name) ?? undefined;
  }
  has(name: string): boolean {
    return this.#headers.has(name);
  }
  set(name: string, value: string): void {
    if (hopByHop.has(name.toLowerCase())) this.hopByHopSet = true;
    this.#headers.set(name, value);
  }
  delete(name: string): void {
    this.#headers.delete(name);
  }
}

/** The request's I/O for the gateway, and what the exchange decides the outgoing body from. */
class WebIO implements RequestIO, BodyState {
  readonly headers: WebHeaders;
  readonly clientIp: string | undefined;
  readonly platform: RuntimePlatform | undefined;
  readonly #request: Request;
  readonly #headers: Headers;
  readonly #parsed: { readonly value: unknown } | undefined;
  source: WebBodySource | undefined;

  constructor(request: Request, headers: Headers, context: FetchRequestContext) {
    this.#request = request;
    this.#headers = headers;
    this.headers = new WebHeaders(headers);
    this.clientIp = context.clientIp;
    this.platform = context.platform;
    this.#parsed = context.parsedBody;
  }

  get body(): WebBodySource {
    return (this.source ??= new WebBodySource(this.#request, this.#parsed, this.#headers));
  }

  get read(): Uint8Array | undefined {
    return this.source?.bytes;
  }

  get consumed(): { readonly value: unknown } | undefined {
    return this.#request.bodyUsed ? (this.#parsed ?? { value: undefined }) : undefined;
  }
}

/**
 * The client's hop-by-hop headers and the ones its `Connection` lists, out before any hook runs,
 * so that they never remove a header a hook sets; framing headers stay (see the Node bridge).
 */
const dropClientHopByHop = (headers: Headers): void => {
  const listed = connectionDropped(headers.get('connection') ?? undefined);
  for (const name of hopByHopButFraming) headers.delete(name);
  for (const name of listed) headers.delete(name);
};

/** The origin-form target of a Request's absolute URL. */
const targetOf = (url: string): string => {
  const start = pathStart(url);
  return start === -1 ? '/' : url.slice(start);
};

/** A `.` or `..` segment (percent-encoded or not) or a backslash: what URL parsing moves or resolves. */
const movable = /(?:^|[/\\])(?:\.|%2e){1,2}(?=[/\\#]|$)|\\/i;

/** What the gateway matches: a target, or a request it must refuse if its URL is a gateway path. */
type Matched = { readonly target: string; readonly refuse: boolean };

/**
 * The target to match: the raw one the host passed when the Request's URL was parsed from it, so
 * `/aux/%2e%2e/sales/ping` is matched as sent, not as the `/sales/ping` the URL parser made of it.
 * When the URL no longer comes from the raw target (an app rewrote it, e.g. `app.mount()` cut a
 * prefix), the URL is what the app means, unless URL parsing may have moved the raw path: then
 * where the client meant to go is unknown, and the request is refused rather than routed.
 */
const matchedTarget = (url: string, raw: string | undefined): Matched => {
  const parsed = targetOf(url);
  if (raw === undefined || raw === parsed) return { target: parsed, refuse: false };
  let resolved: string | undefined;
  try {
    resolved = new URL(raw, url).href;
  } catch {
    resolved = undefined;
  }
  if (resolved === url) return { target: raw, refuse: false };
  const q = raw.indexOf('?');
  return { target: parsed, refuse: movable.test(q === -1 ? raw : raw.slice(0, q)) };
};

const ignore = (): void => undefined;

/**
 * The plan as the transport sees it, telling `settled` once the exchange has settled. A class, not
 * an object literal with getters: V8 builds a literal with accessors on its slow path, per request
 * (in workerd the wrapper and its closures were about 5 % of a proxied tiny GET's instructions).
 */
class WatchedPlan implements ForwardPlan {
  readonly kind = 'forward';
  readonly #plan: ForwardPlan;
  readonly #settled: () => void;

  constructor(plan: ForwardPlan, settled: () => void) {
    this.#plan = plan;
    this.#settled = settled;
  }

  get route(): ForwardPlan['route'] {
    return this.#plan.route;
  }
  get method(): string {
    return this.#plan.method;
  }
  // Per attempt: a retry may go to another backend.
  get backend(): ForwardPlan['backend'] {
    return this.#plan.backend;
  }
  get uri(): string {
    return this.#plan.uri;
  }
  get body(): ForwardPlan['body'] {
    return this.#plan.body;
  }
  get contentType(): ForwardPlan['contentType'] {
    return this.#plan.contentType;
  }
  get upstream(): ForwardPlan['upstream'] {
    return this.#plan.upstream;
  }
  get intercepts(): boolean {
    return this.#plan.intercepts;
  }
  settle(result: Parameters<ForwardPlan['settle']>[0]): void {
    this.#plan.settle(result);
    this.#settled();
  }
  failed(failure: Parameters<ForwardPlan['failed']>[0]): ReturnType<ForwardPlan['failed']> {
    const decision = this.#plan.failed(failure);
    if (decision.next === 'end') this.#settled();
    return decision;
  }
  respond(status: number, headers: Parameters<ForwardPlan['respond']>[1]): ReturnType<ForwardPlan['respond']> {
    return this.#plan.respond(status, headers);
  }
  render(error: GatewayError): ReturnType<ForwardPlan['render']> {
    return this.#plan.render(error);
  }
  refuse(error: GatewayError): ReturnType<ForwardPlan['refuse']> {
    const response = this.#plan.refuse(error);
    this.#settled();
    return response;
  }
}

/**
 * Keeps the request alive until its exchange settles, where the runtime offers a waitUntil: on
 * Workers the response goes on streaming after the worker's fetch returned, and workerd ends the
 * request's context, and runs none of its code again, once the client has gone, unless work was
 * handed to waitUntil. Then the relay hears that the client left, settles `client_closed` and
 * aborts the upstream request, as on Node. workerd cancels a body only through a stream of its
 * own, though: a JS stream it sends from is dropped, never cancelled, so a body that is not one
 * of its streams already (the fetch transport relays into one; a transform's output without a
 * length is a JS stream) is piped through an IdentityTransformStream, whose failed write cancels
 * the relay. The promise resolves when the exchange settles, which the transport's own clocks
 * bound (requestTimeout while it waits on the upstream, clientTimeout on a client that stopped
 * reading).
 */
const untilSettled = (plan: ForwardPlan, waitUntil: (promise: Promise<unknown>) => void): { plan: ForwardPlan; respond: (response: Response) => Response } => {
  let settled = false;
  let resolve: (() => void) | undefined;
  const watching = new WatchedPlan(plan, () => {
    settled = true;
    resolve?.();
  });
  const respond = (response: Response): Response => {
    // A body in memory, an error, or a response without a body: nothing goes on after it.
    if (settled) return response;
    try {
      waitUntil(new Promise<void>((done) => (resolve = done)));
    } catch {
      // The runtime refused: the response goes on without it, as it would without a waitUntil.
      return response;
    }
    const body = response.body;
    if (IdentityTransformStream === undefined || body === null || hasRuntimeBody(response)) return response;
    const through = new IdentityTransformStream();
    // An upstream failure or a client that left ends the pipe: the relay has settled then.
    body.pipeTo(through.writable).catch(ignore);
    return new Response(through.readable, response);
  };
  return { plan: watching, respond };
};

/**
 * Serves a gateway from Web `Request`s (edge runtimes, Hono, Deno, Bun): the fetch counterpart of
 * the Node bridge, with the same pipeline, hygiene and error mapping.
 */
export const fetchHandler = (gateway: Gateway, transport: FetchTransport = new FetchTransport(gateway.upstream)): FetchHandler => {
  const isTrusted = trustMatcher(gateway.upstream.trustedProxies);
  let holding = false;
  return async function apigate(request, context = {}) {
    if (!holding) {
      holding = true;
      // A Worker builds its gateway during its first request, so the middleware inits run in that
      // request's context: workerd cancels their timers and I/O once it ends, and requests waiting
      // for them would hang. Its waitUntil keeps it alive until they finished.
      try {
        context.platform?.waitUntil?.(gateway.ready().catch(() => undefined));
      } catch {
        // The runtime refused: the inits run on without it, as they would without a waitUntil.
      }
    }
    const { target, refuse } = matchedTarget(request.url, context.target);
    const match = gateway.match(request.method, target);
    if (match === undefined) return undefined;
    const fail = (error: GatewayError): Response => toWebResponse(request.method, gateway.render(error, request.method, match.path));
    if (refuse) {
      return fail(new GatewayError('invalid_path', { details: { reason: 'the request URL no longer corresponds to a raw target that URL parsing may have resolved', target: context.target } }));
    }
    const refused = transferCodingRefusal(request.headers.get('transfer-encoding'));
    if (refused !== undefined) return toWebResponse(request.method, gateway.render(refused, request.method, match.path), true);
    const headers = new Headers(request.headers);
    dropClientHopByHop(headers);
    const io = new WebIO(request, headers, context);
    let plan: Plan;
    try {
      plan = await gateway.handle(match, io);
    } catch (error) {
      return fail(toGatewayError(error));
    }
    if (plan.kind === 'respond') return toWebResponse(request.method, plan.response, io.source?.cut === true);
    const outgoing = outgoingBody(plan, io);
    if (outgoing instanceof GatewayError) return toWebResponse(request.method, plan.refuse(outgoing));
    // fetch refuses a GET or HEAD with a body, even an empty one.
    const none = bodyless.has(plan.method) && (outgoing.kind === 'stream' || outgoing.bytes.byteLength === 0);
    const body = none ? null : outgoing.kind === 'bytes' ? outgoing.bytes : request.body;
    const waitUntil = context.platform?.waitUntil;
    return new Promise<Response>((respond) => {
      const failThrough = plan.intercepts ? (error: GatewayError) => toWebResponse(request.method, plan.render(error)) : fail;
      const exchange = { request, headers, cleaned: !io.headers.hopByHopSet, body, clientBody: !none && outgoing.kind === 'stream', clientIp: io.clientIp, trusted: isTrusted(io.clientIp), env: context.platform?.env, fail: failThrough, respond };
      if (waitUntil === undefined) {
        transport.forward(exchange, plan);
        return;
      }
      const kept = untilSettled(plan, waitUntil);
      transport.forward({ ...exchange, respond: (response) => respond(kept.respond(response)) }, kept.plan);
    });
  };
};
