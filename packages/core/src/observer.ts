import type { GatewayError } from '@apigate/errors';
import type { CallbackFailure } from './guard.ts';
import type { Backend } from './policy.ts';
import type { RouteInfo } from './request.ts';

export interface RequestEvent {
  readonly route: RouteInfo;
  readonly method: string;
  readonly path: string;
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

const describe = (event: RequestEvent) => ({ service: event.route.service, route: event.route.path, method: event.method, path: event.path });

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
