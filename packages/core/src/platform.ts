import type { CallbackFailure } from './guard.ts';
import type { RouteInfo } from './request.ts';

/**
 * The runtime a request runs on, as middleware sees it: the platform's bindings and a way to keep
 * work going after the response. Never the runtime's own request object.
 */
export interface Platform<TBindings extends object = Readonly<Record<string, unknown>>> {
  /**
   * The platform's bindings and secrets: a Worker's `env` (`c.env` in Hono) on Workers; on Node
   * what the adapter was given as its `env` option, an empty object by default.
   */
  readonly env: TBindings;
  /**
   * Lets `promise` finish after the response went out (a cache write, an audit call). On Workers
   * it is the request's `ctx.waitUntil`; where the runtime has none (Node), the gateway keeps the
   * promise and `gateway.close()` waits for it. A rejection is reported, never thrown.
   */
  waitUntil(promise: Promise<unknown>): void;
}

/** What an adapter knows of the runtime, each part absent where the runtime has none. */
export interface RuntimePlatform {
  readonly env?: object | undefined;
  /** The runtime's own waitUntil; read only when a middleware calls `waitUntil`. */
  readonly waitUntil?: ((promise: Promise<unknown>) => void) | undefined;
}

type Report = (failure: CallbackFailure) => void;

const emptyEnv: Readonly<Record<string, unknown>> = Object.freeze({});
const nothing = (): void => undefined;

/**
 * Background work handed to `waitUntil` where no runtime keeps it: tracked until it settles, so
 * that shutdown can wait for it (a graceful drain), and its rejection reported.
 */
export class Background {
  readonly #pending = new Set<Promise<void>>();

  /** Keeps `work` until it settled. */
  keep(work: Promise<void>): void {
    this.#pending.add(work);
    void work.finally(() => this.#pending.delete(work));
  }

  /** Resolves once nothing is pending, work started while it waits included. */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }
}

/** The platform of one request: the runtime's parts, or the gateway's stand-ins for missing ones. */
export class RequestPlatform implements Platform {
  readonly #runtime: RuntimePlatform | undefined;
  readonly #background: Background;
  readonly #report: Report;
  readonly #route: RouteInfo | undefined;
  readonly #env: object | undefined;

  constructor(runtime: RuntimePlatform | undefined, background: Background, report: Report, route: RouteInfo | undefined) {
    this.#runtime = runtime;
    this.#background = background;
    this.#report = report;
    this.#route = route;
    this.#env = runtime?.env;
  }

  get env(): Readonly<Record<string, unknown>> {
    return (this.#env ?? emptyEnv) as Readonly<Record<string, unknown>>;
  }

  waitUntil(promise: Promise<unknown>): void {
    const route = this.#route;
    const report = this.#report;
    const work = Promise.resolve(promise).then(nothing, (error: unknown) => report({ callback: 'platform.waitUntil', error, route }));
    try {
      const own = this.#runtime?.waitUntil;
      if (own !== undefined) {
        own(work);
        return;
      }
    } catch (error) {
      // The runtime refused (its request context is gone): the work still runs, the gateway keeps it.
      report({ callback: 'platform.waitUntil', error, route });
    }
    this.#background.keep(work);
  }
}
