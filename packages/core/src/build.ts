import { GatewayBuildError, resolveRenderer, type BuildProblem, type ErrorRenderer, type RendererOption } from '@apigate/errors';
import { compileRoute, type CompiledRoute } from './compile-route.ts';
import type { Env } from './env.ts';
import { defaultBodyLimit } from './input.ts';
import { compileChain, type Chain, type Middleware } from './middleware.ts';
import type { Observer } from './observer.ts';
import { parseTemplate, type Segment } from './path-template.ts';
import { roundRobin, type Backend, type BackendTls, type PolicyInstance, type Policy } from './policy.ts';
import { Router } from './router.ts';
import type { RouteDescriptor, Service } from './routes.ts';
import { routeUpstreamProblems, upstreamDefaults, upstreamProblems, type RouteUpstream, type UpstreamConfig } from './upstream.ts';

export type BackendInput =
  | string
  | {
      readonly url: string;
      readonly weight?: number;
      /** TLS settings of an `https:` backend (Node transport). */
      readonly tls?: BackendTls;
      /** Connect to this Unix domain socket; the URL gives the Host and base path (Node transport). */
      readonly socketPath?: string;
    };

export interface GatewayOptions<TState extends object, TUse extends readonly Middleware[] = readonly Middleware[]> {
  /** Shared app state, typed; hooks read it as `context.state`. */
  state?: TState;
  /** Backends by service name, for services mounted without their own. */
  backends?: Readonly<Record<string, readonly BackendInput[]>>;
  /** Named load-balancing policies that routes and services refer to. */
  policies?: Readonly<Record<string, Policy>>;
  /** The policy of routes and services that name none; round robin when absent. */
  defaultPolicy?: string;
  /** Connection pooling, timeouts and forwarding headers of the transport. */
  upstream?: UpstreamConfig;
  /** How errors are rendered: 'text' (default), 'json', 'problem' or a function. */
  renderer?: RendererOption;
  /** Receives runtime events; none are built when absent. */
  observer?: Observer;
  /** The body limit, in bytes, of routes that read bodies (default 2 MiB); a route may set its own. */
  bodyLimit?: number;
  /**
   * Middleware for every route, and for the gateway's own answers (405, OPTIONS, errors). What
   * they provide in scope, mount() checks against the scope that services' Envs declare.
   */
  use?: TUse;
}

/** What build() hands the gateway. */
export interface GatewayParts<TState extends object> {
  readonly state: TState;
  readonly upstream: Required<UpstreamConfig>;
  readonly renderer: ErrorRenderer;
  readonly observer: Observer | undefined;
  readonly bodyLimit: number;
  readonly router: Router<CompiledRoute>;
  /** The gateway-level middleware. */
  readonly chain: Chain;
  /** Every middleware of every level, once, for close(). */
  readonly middleware: readonly Middleware[];
  readonly routes: readonly RouteDescriptor[];
}

const tlsFields: ReadonlySet<string> = new Set(['ca', 'cert', 'key', 'passphrase', 'servername', 'rejectUnauthorized']);
const isPem = (value: unknown): boolean => typeof value === 'string' || value instanceof Uint8Array;

const checkTls = (tls: unknown): BackendTls => {
  if (typeof tls !== 'object' || tls === null || Array.isArray(tls)) throw new Error('tls is an object of ca, cert, key, passphrase, servername, rejectUnauthorized');
  const fields = tls as Record<string, unknown>;
  for (const name of Object.keys(fields)) if (!tlsFields.has(name)) throw new Error(`tls.${name} is not a TLS option (ca, cert, key, passphrase, servername, rejectUnauthorized)`);
  const { ca, cert, key, passphrase, servername, rejectUnauthorized } = fields;
  if (ca !== undefined && !isPem(ca) && !(Array.isArray(ca) && ca.every(isPem))) throw new Error('tls.ca is PEM text or bytes, or a list of them');
  for (const [name, value] of [['cert', cert], ['key', key]] as const) if (value !== undefined && !isPem(value)) throw new Error(`tls.${name} is PEM text or bytes`);
  if ((cert === undefined) !== (key === undefined)) throw new Error('tls.cert and tls.key go together (a client certificate and its key)');
  if (passphrase !== undefined && typeof passphrase !== 'string') throw new Error('tls.passphrase is a string');
  if (servername !== undefined && (typeof servername !== 'string' || servername === '')) throw new Error('tls.servername is a non-empty host name');
  if (rejectUnauthorized !== undefined && typeof rejectUnauthorized !== 'boolean') throw new Error('tls.rejectUnauthorized is a boolean');
  return tls as BackendTls;
};

/**
 * `http+unix://<percent-encoded socket path>[/base]` (the requests-unixsocket and Docker form): the
 * socket path, and the URL the rest of the gateway sees (`http://localhost/base`).
 */
const unixUrl = /^(https?)\+unix:\/\/([^/?#]+)(.*)$/i;

/** A Worker's binding name, as wrangler.toml declares it: what `binding://NAME` may name. */
const bindingName = /^[A-Za-z_][A-Za-z0-9_]*$/;

const parseBackend = (input: BackendInput): Backend => {
  const { url, weight = 1, tls, socketPath: given } = typeof input === 'string' ? { url: input } : input;
  let socketPath = given;
  let effective = url;
  const unix = typeof url === 'string' ? unixUrl.exec(url) : null;
  if (unix !== null) {
    if (given !== undefined) throw new Error('give the socket either in an http+unix: URL or as socketPath, not both');
    socketPath = decodeURIComponent(unix[2]!);
    effective = `${unix[1]!.toLowerCase()}://localhost${unix[3]!}`;
  }
  const parsed = new URL(effective);
  const binding = parsed.protocol === 'binding:';
  if (!binding && parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('only http:, https:, http+unix: and binding: backends are supported');
  if (parsed.search || parsed.hash || parsed.username || parsed.password) throw new Error('a backend URL has no query, fragment or credentials');
  if (!(weight > 0) || !Number.isFinite(weight)) throw new Error(`weight must be a positive number, got ${weight}`);
  if (socketPath !== undefined && (typeof socketPath !== 'string' || !socketPath.startsWith('/'))) throw new Error('socketPath is an absolute path to a Unix domain socket');
  if (tls !== undefined && parsed.protocol !== 'https:') throw new Error('tls options are for https: backends');
  if (binding && socketPath !== undefined) throw new Error('a binding: backend has no socketPath');
  // A non-special scheme has no origin in WHATWG terms ("null"): the binding's name stands for
  // it, as written, since env keys are case-sensitive.
  if (binding && (parsed.port !== '' || !bindingName.test(parsed.hostname))) throw new Error('a binding: backend is binding://NAME, NAME a binding of the Worker\'s env');
  const origin = binding ? `binding://${parsed.hostname}` : parsed.origin;
  const backend: Backend = { url, origin, basePath: parsed.pathname.replace(/\/+$/, ''), weight };
  if (tls === undefined && socketPath === undefined) return backend;
  return { ...backend, ...(tls === undefined ? {} : { tls: checkTls(tls) }), ...(socketPath === undefined ? {} : { socketPath }) };
};

/**
 * A service whose Env declares a state needs a gateway state assignable to it; a service that
 * declares none (plain `get`/`post`, or an Env with scope only) mounts on any gateway.
 */
export type StateMatches<TState extends object, TEnv extends Env> = TEnv extends { state: infer S }
  ? TState extends S
    ? unknown
    : { 'the gateway state does not match the service Env state': never }
  : unknown;

/** A service as mount() took it. */
export interface Mounted {
  readonly service: Service<never>;
  readonly backends: readonly BackendInput[] | undefined;
}

/**
 * Validates a gateway definition and compiles it: every problem is collected, then thrown at once
 * as a GatewayBuildError.
 */
export const buildGateway = <TState extends object>(options: GatewayOptions<TState>, mounted: readonly Mounted[]): GatewayParts<TState> => {
  const problems: BuildProblem[] = [];
  const policies: Record<string, Policy> = { 'round-robin': roundRobin(), ...options.policies };
  const defaultPolicy = options.defaultPolicy ?? 'round-robin';
  if (!Object.hasOwn(policies, defaultPolicy)) problems.push({ code: 'unknown_policy', message: `default policy "${defaultPolicy}" is not registered` });
  const registered = options.backends ?? {};
  const gatewayUse = options.use ?? [];
  const used = new Set<Middleware>(gatewayUse);
  for (const [i, middleware] of gatewayUse.entries()) {
    if (typeof middleware?.name !== 'string' || middleware.name === '') problems.push({ code: 'invalid_option', at: `use[${i}]`, message: 'a middleware is an object with a non-empty name' });
  }
  const names = new Set<string>();
  const router = new Router<CompiledRoute>();
  const descriptors: RouteDescriptor[] = [];

  for (const { service, backends: own } of mounted) {
    const at = `service ${service.name}`;
    if (names.has(service.name)) problems.push({ code: 'invalid_option', at, message: 'two mounted services have this name' });
    names.add(service.name);
    // A service with a bad prefix is still checked (backends, policies, routes) so that build()
    // lists every problem at once; its routes only stay out of the router.
    let prefix: Segment[] = [];
    let prefixOk = true;
    try {
      if (service.prefix !== '') prefix = parseTemplate(service.prefix);
      if (prefix.some((segment) => segment.kind !== 'static')) throw new Error('a prefix has static segments only');
    } catch (error) {
      problems.push({ code: 'invalid_prefix', at, message: (error as Error).message });
      prefix = [];
      prefixOk = false;
    }
    const inputs = own ?? (Object.hasOwn(registered, service.name) ? registered[service.name] : undefined);
    const backends: Backend[] = [];
    if (inputs === undefined || inputs.length === 0) problems.push({ code: 'unknown_backend', at, message: `no backends given at mount() nor registered for "${service.name}"` });
    for (const input of inputs ?? []) {
      try {
        backends.push(parseBackend(input));
      } catch (error) {
        problems.push({ code: 'invalid_backend_url', at, message: `${JSON.stringify(typeof input === 'string' ? input : input.url)}: ${(error as Error).message}` });
      }
    }
    // An unknown policy is reported once where it is named (route, service or default).
    if (service.policy !== undefined && !Object.hasOwn(policies, service.policy)) {
      problems.push({ code: 'unknown_policy', at, message: `policy "${service.policy}" is not registered` });
    }
    const balancers = new Map<string, PolicyInstance>();
    for (const route of service.routes) {
      const routeAt = `${at} ${route.method} ${route.path}`;
      if (route.policy !== undefined && !Object.hasOwn(policies, route.policy)) {
        problems.push({ code: 'unknown_policy', at: routeAt, message: `policy "${route.policy}" is not registered` });
      }
      for (const message of route.input?.problems ?? []) problems.push({ code: 'invalid_option', at: routeAt, message });
      if (route.meta !== undefined && (route.meta === null || typeof route.meta !== 'object' || Array.isArray(route.meta))) {
        problems.push({ code: 'invalid_option', at: routeAt, message: 'meta must be a plain object' });
      }
      problems.push(...routeUpstreamProblems(route.options.upstream, routeAt));
      const compiled = compileRoute({ service, prefix, route, at: routeAt, problems, chain: compileChain([gatewayUse, service.use, route.use as readonly Middleware[]]) });
      for (const middleware of [...service.use, ...(route.use as readonly Middleware[])]) used.add(middleware);
      if (compiled === undefined || !prefixOk) continue;
      const policyName = route.policy ?? service.policy ?? defaultPolicy;
      const policy = Object.hasOwn(policies, policyName) ? policies[policyName] : undefined;
      let balancer = policy === undefined ? unknownPolicy : balancers.get(policyName);
      if (!balancer) balancers.set(policyName, (balancer = policy!.create(backends)));
      const full: CompiledRoute = { ...compiled, balancer, backends, upstream: route.options.upstream as RouteUpstream | undefined };
      if (!router.add(route.method, compiled.segments, full)) {
        const which = route.method === '*' ? 'every method of' : route.method;
        problems.push({ code: 'duplicate_route', at: routeAt, message: `another route already answers ${which} ${compiled.info.path}` });
      }
      descriptors.push(
        Object.freeze({
          method: route.method,
          path: compiled.info.path,
          to: route.to ?? compiled.implied,
          service: service.name,
          policy: policyName,
          input: Object.freeze({ ...route.input?.schemas }),
          meta: Object.freeze({ ...route.meta }),
          middleware: Object.freeze(compiled.chain.all.map((m) => Object.freeze({ name: m.name, describe: Object.freeze({ ...m.describe }) }))),
        }),
      );
    }
  }
  for (const name of Object.keys(registered)) {
    if (!names.has(name)) problems.push({ code: 'unknown_backend', at: `backends.${name}`, message: `backends are registered for "${name}" but no mounted service has that name` });
  }
  problems.push(...upstreamProblems(options.upstream ?? {}));
  const bodyLimit = options.bodyLimit ?? defaultBodyLimit;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit <= 0) problems.push({ code: 'invalid_option', at: 'bodyLimit', message: `must be a positive whole number of bytes, got ${String(bodyLimit)}` });
  if (problems.length > 0) throw new GatewayBuildError(problems);
  const upstream = { ...upstreamDefaults, ...definedOnly(options.upstream ?? {}) };
  return {
    state: (options.state ?? {}) as TState,
    upstream,
    renderer: resolveRenderer(options.renderer),
    observer: options.observer,
    bodyLimit,
    router,
    routes: Object.freeze(descriptors),
    chain: compileChain([gatewayUse]),
    middleware: [...used],
  };
};

/** Stands in for a policy build() already reported as unknown; such a gateway is never built. */
const unknownPolicy: PolicyInstance = { pick: () => undefined };

const definedOnly = <T extends object>(value: T): Partial<T> =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
