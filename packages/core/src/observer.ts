import type { GatewayError } from '@apigate/errors';
import type { CallbackFailure } from './guard.ts';
import type { Backend } from './policy.ts';
import type { RouteInfo } from './request.ts';

export interface RequestEvent {
  /** The request's number, the same in each of its events: unique within the gateway, from 1. */
  readonly id: number;
  readonly route: RouteInfo;
  readonly method: string;
  readonly path: string;
}

/** How a request ended, however it ended: the one event every request gets, exactly once. */
export interface RequestEndEvent {
  readonly id: number;
  /** The matched route; undefined for a gateway path answered 405 or OPTIONS. */
  readonly route: RouteInfo | undefined;
  readonly method: string;
  readonly path: string;
  /** The status the client got; undefined when no response was (fully) given. */
  readonly status: number | undefined;
  /** What went wrong, when something did: a refusal, an upstream fault, `client_closed`. */
  readonly error: GatewayError | undefined;
  /** The backend, when one was picked. */
  readonly backend: Backend | undefined;
  /** True for a response the gateway made (an error, 405, OPTIONS, a hook's answer). */
  readonly gatewayMade: boolean;
  /** Milliseconds from the match to the end. */
  readonly durationMs: number;
}

/** A request's identity for the observer's events; made only when an observer is configured. */
export interface Trace {
  readonly id: number;
  /** performance.now() at the match. */
  readonly started: number;
}

/**
 * Runtime events of the request path. Every method is optional; with no observer configured the
 * gateway builds no event at all.
 */
export interface Observer {
  requestStart?(event: RequestEvent): void;
  backendSelected?(event: RequestEvent & { readonly backend: Backend }): void;
  /** A hook or a rewrite ended the request with an error before dispatch. */
  pipelineFailed?(event: RequestEvent & { readonly error: GatewayError }): void;
  /** The request could not be sent: no backend was available. */
  dispatchFailed?(event: RequestEvent & { readonly error: GatewayError }): void;
  upstreamSucceeded?(event: RequestEvent & { readonly backend: Backend; readonly status: number; readonly latencyMs: number }): void;
  upstreamFailed?(event: RequestEvent & { readonly backend: Backend; readonly error: GatewayError; readonly latencyMs: number }): void;
  /**
   * Every request's end, once: forwarded ones when they settle, and the answers the gateway makes
   * itself — refusals, a hook's or middleware's response, 405 and OPTIONS for a gateway path.
   */
  requestEnd?(event: RequestEndEvent): void;
  /**
   * Another callback (an observer method, a balancer's `pick`/`start`/`end`) threw. The throw is
   * caught and the request goes on; without this method each failing callback is reported once on
   * the console.
   */
  callbackFailed?(event: CallbackFailure): void;
}

/** The subset of a pino logger the logging observer uses. */
export interface Logger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

const describe = (event: RequestEvent) => ({ id: event.id, service: event.route.service, route: event.route.path, method: event.method, path: event.path });

/**
 * An observer that logs upstream results and failures to a pino-compatible logger.
 * @example createGateway({ observer: loggingObserver(pino()) })
 */
export const loggingObserver = (logger: Logger): Observer => ({
  upstreamSucceeded(event) {
    logger.info({ ...describe(event), backend: event.backend.url, status: event.status, latencyMs: event.latencyMs }, 'upstream responded');
  },
  upstreamFailed(event) {
    logger.warn(
      { ...describe(event), backend: event.backend.url, code: event.error.code, latencyMs: event.latencyMs, details: event.error.details, err: event.error.cause },
      'upstream failed',
    );
  },
  pipelineFailed(event) {
    const log = event.error.status >= 500 ? logger.error : logger.info;
    log.call(logger, { ...describe(event), code: event.error.code, details: event.error.details, err: event.error.cause }, 'request refused');
  },
  dispatchFailed(event) {
    logger.error({ ...describe(event), code: event.error.code, details: event.error.details }, 'dispatch failed');
  },
});
