import type { Observer } from './observer.ts';
import type { RouteInfo } from './request.ts';

/** A user callback (observer method, balancer hook) that threw on the request path. */
export interface CallbackFailure {
  /** Which callback threw: `observer.upstreamSucceeded`, `balancer.end`, … */
  readonly callback: string;
  readonly error: unknown;
  /** The route of the request it was called for, when there was one. */
  readonly route: RouteInfo | undefined;
}

type Report = (failure: CallbackFailure) => void;

const warned = new Set<string>();

/**
 * Where a throwing callback is reported when the observer has no `callbackFailed`: one console
 * line per callback name for the life of the process, so that a callback throwing on every
 * request cannot flood the log.
 */
const warnOnce: Report = (failure) => {
  if (warned.has(failure.callback)) return;
  warned.add(failure.callback);
  console.error(`apigate: ${failure.callback} threw; the request went on (further throws from it are not reported)`, failure.error);
};

/**
 * The reporter of throwing callbacks: the observer's `callbackFailed`, or a console warning. A
 * `callbackFailed` that throws itself is reported to the console.
 */
export const callbackReporter = (observer: Observer | undefined): Report => {
  const own = observer?.callbackFailed;
  if (own === undefined) return warnOnce;
  return (failure) => {
    try {
      own.call(observer, failure);
    } catch (error) {
      warnOnce({ callback: 'observer.callbackFailed', error, route: failure.route });
    }
  };
};

const events = ['requestStart', 'backendSelected', 'pipelineFailed', 'dispatchFailed', 'upstreamSucceeded', 'upstreamFailed', 'requestEnd'] as const;

/**
 * The observer with every method guarded: a throw is reported and the request goes on. Observer
 * methods run from socket and stream events (a response's `close`), where an uncaught throw would
 * take the process down.
 */
export const guardedObserver = (observer: Observer | undefined, report: Report): Observer | undefined => {
  if (observer === undefined) return undefined;
  const guarded: Record<string, (event: { readonly route: RouteInfo | undefined }) => void> = {};
  for (const name of events) {
    const method = observer[name] as ((event: { readonly route: RouteInfo | undefined }) => void) | undefined;
    if (typeof method !== 'function') continue;
    guarded[name] = (event) => {
      try {
        method.call(observer, event);
      } catch (error) {
        report({ callback: `observer.${name}`, error, route: event.route });
      }
    };
  }
  return guarded as Observer;
};
