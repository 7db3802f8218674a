import { GatewayError, renderError, type ErrorRenderer, type GatewayResponse } from '@apigate/errors';
import { BodyTransforms, hasBody } from './body-transforms.ts';
import { clientTimeoutCode, failureCode, upstreamFailure, type AttemptDecision, type AttemptFailure } from './exchange/failure.ts';
import type { CompiledRoute } from './compile-route.ts';
import type { CallbackFailure } from './guard.ts';
import type { Match } from './match.ts';
import { noTransform, respondThrough, runResponse, runSettle, runUpstream, type Chain, type ResponseHeaders, type ScopeReader } from './middleware.ts';
import type { Observer, Trace } from './observer.ts';
import type { Platform } from './platform.ts';
import type { PolicyView } from './policy-view.ts';
import type { ForwardPlan, ResponseTransforms, SettleInput } from './plan.ts';
import type { Backend, PolicyInstance, UpstreamOutcome } from './policy.ts';
import type { RequestHeaders, RouteInfo } from './request.ts';
import type { RouteUpstream } from './upstream.ts';

const now = (): number => performance.now();

const replay: AttemptDecision = { next: 'replay' };
const retry: AttemptDecision = { next: 'retry' };

export interface ForwardParts {
  readonly route: CompiledRoute;
  readonly match: Match;
  readonly backend: Backend;
  /** The upstream URI before the backend's base path. */
  readonly uri: string;
  /** What the balancer saw at the first pick; a retry asks it again. */
  readonly view: PolicyView;
  /** The headers that go upstream, for the upstream phases of a retry. */
  readonly headers: RequestHeaders;
  readonly observer: Observer | undefined;
  readonly trace: Trace | undefined;
  readonly report: (failure: CallbackFailure) => void;
  readonly replacement: { readonly body: Uint8Array; readonly contentType: string } | undefined;
  readonly scope: ScopeReader;
  readonly renderer: ErrorRenderer;
  readonly platform: Platform;
}

/** A planned forward: settles once, and runs the response and settle phases for the transport. */
export class Forward implements ForwardPlan {
  readonly kind = 'forward';
  readonly route: RouteInfo;
  readonly method: string;
  readonly body: Uint8Array | undefined;
  readonly contentType: string | undefined;
  readonly upstream: RouteUpstream | undefined;
  readonly #path: string;
  readonly #target: string;
  readonly #route: CompiledRoute;
  readonly #view: PolicyView;
  readonly #headers: RequestHeaders;
  readonly #balancer: PolicyInstance;
  readonly #observer: Observer | undefined;
  readonly #trace: Trace | undefined;
  readonly #report: (failure: CallbackFailure) => void;
  readonly #chain: Chain;
  readonly #scope: ScopeReader;
  readonly #renderer: ErrorRenderer;
  readonly #platform: Platform;
  readonly #started: number;
  #backend: Backend;
  #uri: string;
  #attempt = 1;
  #attemptStarted: number;
  /** Every backend sent to, once a retry went to a second. */
  #tried: Backend[] | undefined;
  #settled = false;
  #replayed = false;

  constructor(parts: ForwardParts) {
    const { route, match, replacement, observer } = parts;
    this.route = route.info;
    this.method = match.method;
    this.#backend = parts.backend;
    this.#target = parts.uri;
    this.#uri = joinBase(parts.backend, parts.uri);
    this.#route = route;
    this.#view = parts.view;
    this.#headers = parts.headers;
    this.body = replacement?.body;
    this.contentType = replacement?.contentType;
    this.upstream = route.upstream;
    this.#path = match.path;
    this.#balancer = route.balancer;
    this.#observer = observer;
    this.#trace = parts.trace;
    this.#report = parts.report;
    this.#chain = route.chain;
    this.#scope = parts.scope;
    this.#renderer = parts.renderer;
    this.#platform = parts.platform;
    this.#started = observer || route.balancer.end || route.chain.settle.length > 0 ? now() : 0;
    this.#attemptStarted = this.#started;
  }

  /** The backend of the current attempt. */
  get backend(): Backend {
    return this.#backend;
  }

  get uri(): string {
    return this.#uri;
  }

  get intercepts(): boolean {
    return this.#chain.response.length > 0;
  }

  respond(status: number, headers: ResponseHeaders): ResponseTransforms | undefined {
    const scope = this.#scope;
    const context = { route: this.route, method: this.method, path: this.#path, status, headers, gatewayMade: false, error: undefined, transform: noTransform, platform: this.#platform, get: (key: PropertyKey) => scope.get(key) };
    if (!hasBody(this.method, status)) {
      runResponse(this.#chain, context, { report: this.#report });
      return undefined;
    }
    // The phases edit headers through the body's view, which sees who sets Content-Length when.
    const body = new BodyTransforms(headers, this.#report, this.route);
    runResponse(this.#chain, { ...context, headers: body, transform: body.add }, { report: this.#report, visit: body.visit });
    return body.finish();
  }

  render(error: GatewayError): GatewayResponse {
    const response = renderError(error, { method: this.method, path: this.#path }, this.#renderer);
    if (!this.intercepts) return response;
    const scope = this.#scope;
    return respondThrough(response, (headers) =>
      runResponse(this.#chain, { route: this.route, method: this.method, path: this.#path, status: response.status, headers, gatewayMade: true, error, transform: noTransform, platform: this.#platform, get: (key) => scope.get(key) }, { report: this.#report }),
    );
  }

  failed(failure: AttemptFailure): AttemptDecision {
    if (failure.stale && failure.replayable && !failure.started && !this.#replayed && !this.#settled) {
      // The upstream closed the pooled connection before reading the request, so it never got it:
      // whatever the method, it goes again, once, on a fresh connection (nodejs/node#47130).
      this.#replayed = true;
      return replay;
    }
    let error = upstreamFailure(failure.error, this.#replayed);
    // A body stream that broke after the head arrived was a connection that worked: workerd's
    // "Network connection lost." or a cause no code names is then the upstream's reset.
    if (failure.started && (error.code === 'bad_gateway' || error.code === 'upstream_unreachable')) error = new GatewayError('upstream_reset', { details: error.details, cause: failure.error });
    if (failure.replayable && !failure.started && !this.#settled && error.code !== 'client_closed' && this.#chain.retry.length > 0 && this.#retry(error)) return retry;
    const decision = this.#decide(failure, error);
    this.#end({ error }, decision.answer?.status);
    return decision;
  }

  /**
   * Asks the retry phases whether the failed attempt goes again, and where; when one answers with
   * a configured backend, the balancer and observer hear the attempt ended and the next began,
   * and the upstream phases run for it.
   */
  #retry(error: GatewayError): boolean {
    const failed = this.#backend;
    const tried = (this.#tried ??= [failed]);
    const scope = this.#scope;
    const context = {
      route: this.route,
      method: this.method,
      path: this.#path,
      attempt: this.#attempt,
      backend: failed,
      tried,
      error,
      platform: this.#platform,
      get: (key: PropertyKey) => scope.get(key),
      other: () => this.#other(tried),
    };
    let next: Backend | undefined;
    for (const middleware of this.#chain.retry) {
      try {
        next = middleware.retry!(context);
      } catch (cause) {
        this.#report({ callback: `${middleware.name}.retry`, error: cause, route: this.route });
        return false;
      }
      if (next === undefined) continue;
      if (this.#route.backends.includes(next)) break;
      // Only a configured backend is ever sent to (DESIGN.md rule 5): a made-up one ends the request.
      this.#report({ callback: `${middleware.name}.retry`, error: new Error(`retry returned a backend that is not one of the service's (${String((next as Partial<Backend>)?.url)})`), route: this.route });
      return false;
    }
    if (next === undefined) return false;
    this.#attemptEnded(failed, error);
    this.#attempt += 1;
    this.#replayed = false;
    this.#backend = next;
    this.#uri = joinBase(next, this.#target);
    if (!tried.includes(next)) tried.push(next);
    const trace = this.#trace;
    if (trace !== undefined) this.#observer!.backendSelected?.({ id: trace.id, route: this.route, method: this.method, path: this.#path, backend: next });
    const balancer = this.#balancer;
    if (balancer.start) {
      try {
        balancer.start(next);
      } catch (cause) {
        this.#report({ callback: 'balancer.start', error: cause, route: this.route });
      }
    }
    if (this.#chain.upstream.length > 0) {
      runUpstream(this.#chain, { route: this.route, method: this.method, path: this.#path, backend: next, attempt: this.#attempt, headers: this.#headers, platform: this.#platform, get: (key) => scope.get(key) }, this.#report);
    }
    return true;
  }

  /** Another backend through the balancer, skipping `tried`; else the first untried one. */
  #other(tried: readonly Backend[]): Backend | undefined {
    const view = this.#view;
    const skip = new Set(tried);
    view.exclude = skip;
    let picked: Backend | undefined;
    try {
      picked = this.#balancer.pick(view);
    } catch (error) {
      this.#report({ callback: 'balancer.pick', error, route: this.route });
    } finally {
      view.exclude = undefined;
    }
    if (picked !== undefined && !skip.has(picked) && this.#route.backends.includes(picked)) return picked;
    return this.#route.backends.find((backend) => !skip.has(backend));
  }

  /** The balancer and observer hear that an attempt which is sent again failed. */
  #attemptEnded(backend: Backend, error: GatewayError): void {
    const end = this.#balancer.end;
    const trace = this.#trace;
    if (end === undefined && trace === undefined) return;
    const at = now();
    const latencyMs = at - this.#attemptStarted;
    this.#attemptStarted = at;
    if (end) {
      try {
        end.call(this.#balancer, backend, { ok: false, code: error.code, latencyMs });
      } catch (cause) {
        this.#report({ callback: 'balancer.end', error: cause, route: this.route });
      }
    }
    if (trace !== undefined) this.#observer!.upstreamFailed?.({ id: trace.id, route: this.route, method: this.method, path: this.#path, backend, error, latencyMs });
  }

  /** What the client is told of a failed attempt that is not sent again. */
  #decide(failure: AttemptFailure, error: GatewayError): AttemptDecision & { readonly next: 'end' } {
    if (failure.started) return { next: 'end', error, answer: undefined, close: false };
    if (failureCode(failure.error) === clientTimeoutCode) {
      // An upload the client stopped sending: answered, as NGINX does, and the connection closes
      // rather than wait for the rest of the body.
      const answer = new GatewayError('request_timeout', { message: 'The request body was not received in time.', details: { reason: (failure.error as Error).message } });
      return { next: 'end', error, answer, close: true };
    }
    return { next: 'end', error, answer: error.code === 'client_closed' ? undefined : error, close: false };
  }

  /**
   * Called by a transport, often from a socket or stream event: the balancer's `end` and the
   * observer (guarded by the gateway) must not throw out of it, or the process goes down.
   */
  settle(result: SettleInput): void {
    this.#end(result, undefined);
  }

  refuse(error: GatewayError): GatewayResponse {
    const response = this.render(error);
    this.#end({ error }, response.status);
    return response;
  }

  /** Settles once; `answered` is the status of the gateway's own answer to an error, if the client gets one. */
  #end(result: SettleInput, answered: number | undefined): void {
    if (this.#settled) return;
    this.#settled = true;
    const observer = this.#observer;
    const end = this.#balancer.end;
    const chain = this.#chain;
    if (!observer && !end && chain.settle.length === 0) return;
    const ended = now();
    const latencyMs = ended - this.#started;
    const attemptMs = ended - this.#attemptStarted;
    if (chain.settle.length > 0) {
      const scope = this.#scope;
      const ok = 'status' in result;
      runSettle(
        chain,
        { route: this.route, method: this.method, path: this.#path, status: ok ? result.status : answered, error: ok ? undefined : result.error, backend: this.backend, durationMs: latencyMs, platform: this.#platform, get: (key) => scope.get(key) },
        { report: this.#report },
      );
    }
    if (end) {
      const outcome: UpstreamOutcome = 'status' in result ? { ok: true, status: result.status, latencyMs: attemptMs } : { ok: false, code: result.error.code, latencyMs: attemptMs };
      try {
        end.call(this.#balancer, this.backend, outcome);
      } catch (error) {
        this.#report({ callback: 'balancer.end', error, route: this.route });
      }
    }
    const trace = this.#trace;
    if (observer === undefined || trace === undefined) return;
    const id = trace.id;
    const ok = 'status' in result;
    if (ok) observer.upstreamSucceeded?.({ id, route: this.route, method: this.method, path: this.#path, backend: this.backend, status: result.status, latencyMs: attemptMs });
    else observer.upstreamFailed?.({ id, route: this.route, method: this.method, path: this.#path, backend: this.backend, error: result.error, latencyMs: attemptMs });
    observer.requestEnd?.({
      id,
      route: this.route,
      method: this.method,
      path: this.#path,
      status: ok ? result.status : answered,
      error: ok ? undefined : result.error,
      backend: this.backend,
      gatewayMade: !ok && answered !== undefined,
      durationMs: now() - trace.started,
    });
  }
}

const joinBase = (backend: Backend, uri: string): string => (backend.basePath === '' ? uri : backend.basePath + uri);
