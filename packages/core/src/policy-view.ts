import type { RequestIO, Routed } from './match.ts';
import type { Backend, PolicyRequest } from './policy.ts';
import type { RequestHeaders, RouteInfo } from './request.ts';

/** What a balancer sees; headers are read from the adapter only if a strategy asks for them. */
export class PolicyView implements PolicyRequest {
  readonly route: RouteInfo;
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  /** Set only when a retry asks the balancer for another backend. */
  exclude: ReadonlySet<Backend> | undefined = undefined;
  readonly #io: RequestIO;
  readonly #client: (io: RequestIO) => string | undefined;

  /** `client` resolves the client's address through the trusted proxies, as for every consumer. */
  constructor({ route, match, io, params }: Routed, client: (io: RequestIO) => string | undefined) {
    this.route = route.info;
    this.method = match.method;
    this.path = match.path;
    this.params = params;
    this.#io = io;
    this.#client = client;
  }

  get headers(): RequestHeaders {
    return this.#io.headers;
  }

  get clientIp(): string | undefined {
    return this.#client(this.#io);
  }
}
