import { renderError, type ErrorRenderer, type GatewayError, type GatewayResponse } from '@apigate/errors';
import type { CompiledRoute } from './compile-route.ts';
import type { CallbackFailure } from './guard.ts';
import type { Match } from './match.ts';
import { respondThrough, runResponse, runSettle, type Chain, type ResponseHeaders, type ScopeReader } from './middleware.ts';
import type { Observer } from './observer.ts';
import type { Platform } from './platform.ts';
import type { ForwardPlan, SettleInput } from './plan.ts';
import type { Backend, PolicyInstance, UpstreamOutcome } from './policy.ts';
import type { RouteInfo } from './request.ts';
import type { RouteUpstream } from './upstream.ts';

const now = (): number => performance.now();

export interface ForwardParts {
  readonly route: CompiledRoute;
  readonly match: Match;
  readonly backend: Backend;
  readonly uri: string;
  readonly observer: Observer | undefined;
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
  readonly backend: Backend;
  readonly uri: string;
  readonly body: Uint8Array | undefined;
  readonly contentType: string | undefined;
  readonly upstream: RouteUpstream | undefined;
  readonly #path: string;
  readonly #balancer: PolicyInstance;
  readonly #observer: Observer | undefined;
  readonly #report: (failure: CallbackFailure) => void;
  readonly #chain: Chain;
  readonly #scope: ScopeReader;
  readonly #renderer: ErrorRenderer;
  readonly #platform: Platform;
  readonly #started: number;
  #settled = false;

  constructor(parts: ForwardParts) {
    const { route, match, replacement, observer } = parts;
    this.route = route.info;
    this.method = match.method;
    this.backend = parts.backend;
    this.uri = parts.uri;
    this.body = replacement?.body;
    this.contentType = replacement?.contentType;
    this.upstream = route.upstream;
    this.#path = match.path;
    this.#balancer = route.balancer;
    this.#observer = observer;
    this.#report = parts.report;
    this.#chain = route.chain;
    this.#scope = parts.scope;
    this.#renderer = parts.renderer;
    this.#platform = parts.platform;
    this.#started = observer || route.balancer.end || route.chain.settle.length > 0 ? now() : 0;
  }

  get intercepts(): boolean {
    return this.#chain.response.length > 0;
  }

  respond(status: number, headers: ResponseHeaders): void {
    const scope = this.#scope;
    runResponse(this.#chain, { route: this.route, method: this.method, path: this.#path, status, headers, gatewayMade: false, error: undefined, platform: this.#platform, get: (key) => scope.get(key) }, { report: this.#report });
  }

  render(error: GatewayError): GatewayResponse {
    const response = renderError(error, { method: this.method, path: this.#path }, this.#renderer);
    if (!this.intercepts) return response;
    const scope = this.#scope;
    return respondThrough(response, (headers) =>
      runResponse(this.#chain, { route: this.route, method: this.method, path: this.#path, status: response.status, headers, gatewayMade: true, error, platform: this.#platform, get: (key) => scope.get(key) }, { report: this.#report }),
    );
  }

  /**
   * Called by a transport, often from a socket or stream event: the balancer's `end` and the
   * observer (guarded by the gateway) must not throw out of it, or the process goes down.
   */
  settle(result: SettleInput): void {
    if (this.#settled) return;
    this.#settled = true;
    const observer = this.#observer;
    const end = this.#balancer.end;
    const chain = this.#chain;
    if (!observer && !end && chain.settle.length === 0) return;
    const latencyMs = now() - this.#started;
    if (chain.settle.length > 0) {
      const scope = this.#scope;
      const ok = 'status' in result;
      runSettle(
        chain,
        { route: this.route, method: this.method, path: this.#path, status: ok ? result.status : undefined, error: ok ? undefined : result.error, backend: this.backend, durationMs: latencyMs, platform: this.#platform, get: (key) => scope.get(key) },
        { report: this.#report },
      );
    }
    if (end) {
      const outcome: UpstreamOutcome = 'status' in result ? { ok: true, status: result.status, latencyMs } : { ok: false, code: result.error.code, latencyMs };
      try {
        end.call(this.#balancer, this.backend, outcome);
      } catch (error) {
        this.#report({ callback: 'balancer.end', error, route: this.route });
      }
    }
    if ('status' in result) {
      observer?.upstreamSucceeded?.({ route: this.route, method: this.method, path: this.#path, backend: this.backend, status: result.status, latencyMs });
    } else {
      observer?.upstreamFailed?.({ route: this.route, method: this.method, path: this.#path, backend: this.backend, error: result.error, latencyMs });
    }
  }
}
