import type { Env, HookResult, Middleware, ProvidedBy, RequestContext, ResponseContext, SettleEvent, UpstreamContext } from '@apigate/core';
import { GatewayBuildError, GatewayError, isGatewayError } from '@apigate/errors';
import type { ApiKeyScope } from '../api-key/api-key.ts';
import type { Consumer } from '../api-key/store.ts';
import { isPreflight } from '../internal/preflight.ts';

/** An auth method as the composers take it: any middleware with a request phase. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Method = Middleware<any, any>;

/** The consumer optional() puts in scope when no credentials came: rate limits can key on it like on any other. */
export const anonymousConsumer: Consumer = Object.freeze({ id: 'anonymous', tier: 'anonymous', anonymous: true });

/**
 * How one method's request phase ended. An auth method of this package says "no credentials" with
 * 401 `unauthorized` (its challenge without an error); every other refusal means credentials came
 * and were bad (`invalid_token`, `invalid_api_key`, `invalid_request`, `insufficient_scope`,
 * `auth_unavailable`…). Middleware of your own that follow the same convention compose the same way.
 */
type Outcome =
  | { readonly kind: 'passed' }
  | { readonly kind: 'missing'; readonly error: GatewayError }
  | { readonly kind: 'refused'; readonly error: GatewayError }
  | { readonly kind: 'answered'; readonly result: HookResult };

const attempt = async (method: Method, context: RequestContext): Promise<Outcome> => {
  let result: HookResult;
  try {
    result = await method.request!(context as never);
  } catch (error) {
    if (!isGatewayError(error)) throw error;
    result = error;
  }
  if (result === undefined) return { kind: 'passed' };
  if (isGatewayError(result)) return result.code === 'unauthorized' ? { kind: 'missing', error: result } : { kind: 'refused', error: result };
  return { kind: 'answered', result };
};

const problem = (at: string, message: string): GatewayBuildError => new GatewayBuildError([{ code: 'invalid_option', at, message }]);

const checkMethods = (methods: readonly unknown[], at: string, least: number): readonly Method[] => {
  if (methods.length < least) throw problem(at, `give ${least === 1 ? 'an auth method' : `${least} or more auth methods`}`);
  methods.forEach((method, i) => {
    const ok = typeof method === 'object' && method !== null && typeof (method as Method).name === 'string' && typeof (method as Method).request === 'function';
    if (!ok) throw problem(at, `argument ${i + 1} is not a middleware with a request phase (jwt(), apiKey(), …)`);
  });
  return methods as readonly Method[];
};

/** 401 `unauthorized` with every missing method's challenge, in one `WWW-Authenticate` (RFC 9110 §11.6.1 allows a list). */
const missingAll = (missing: readonly GatewayError[], names: readonly string[]): GatewayError => {
  const challenges = missing.map((error) => error.headers?.['www-authenticate']).filter((value): value is string => typeof value === 'string' && value !== '');
  return new GatewayError('unauthorized', {
    details: { reason: 'no credentials for any of the methods', methods: names },
    ...(challenges.length > 0 && { headers: { 'www-authenticate': challenges.join(', ') } }),
  });
};

/**
 * Runs inner methods and remembers, per request, whose request phase ran, so that only those get
 * their later phases (core's rule for one middleware, kept inside the composite): upstream in
 * order, response and settle in reverse. Each composite has its own scope key, so nested ones keep
 * apart.
 */
const runner = (methods: readonly Method[]) => {
  const key = Symbol('apigate.auth.ran');
  const ran = (context: { get(key: PropertyKey): unknown }): readonly Method[] => (context.get(key) as Method[] | undefined) ?? [];
  const phases: { -readonly [K in 'upstream' | 'response' | 'settle' | 'init' | 'close']?: Method[K] } = {};
  if (methods.some((method) => method.upstream)) phases.upstream = (context: UpstreamContext) => ran(context).forEach((method) => method.upstream?.(context));
  if (methods.some((method) => method.response)) phases.response = (context: ResponseContext) => [...ran(context)].reverse().forEach((method) => method.response?.(context));
  if (methods.some((method) => method.settle)) phases.settle = (event: SettleEvent) => [...ran(event)].reverse().forEach((method) => method.settle?.(event));
  if (methods.some((method) => method.init)) phases.init = async (context) => void (await Promise.all(methods.map((method) => method.init?.(context))));
  if (methods.some((method) => method.close)) phases.close = async () => void (await Promise.all(methods.map((method) => method.close?.())));
  const run = (method: Method, context: RequestContext): Promise<Outcome> => {
    const list = ran(context) as Method[];
    if (list.length === 0) (context.set as (key: PropertyKey, value: unknown) => void)(key, list);
    list.push(method);
    return attempt(method, context);
  };
  return { phases, run };
};

const listed = (methods: readonly Method[]) => methods.map((method) => ({ name: method.name, describe: method.describe ?? {} }));

/**
 * Passes a request that one of the methods authenticates: `anyOf(jwt({ jwks }), apiKey({ keys }))`
 * takes a bearer token or an API key. Each method runs in order; one that finds no credentials of
 * its kind is skipped, but credentials that are sent and bad are refused even when another method
 * would pass (an invalid credential is never ignored). No credentials at all is 401 `unauthorized`
 * with every method's challenge in `WWW-Authenticate`. What each method puts in scope is there for
 * the routes, typed (a value of a method that did not authenticate the request is undefined).
 * @example service({ prefix: '/v1', use: [anyOf(jwt({ jwks }), apiKey({ lookup }))] }, routes)
 */
export const anyOf = <const TMethods extends readonly Method[]>(...methods: TMethods): Middleware<Env, ProvidedBy<TMethods>> => {
  const list = checkMethods(methods, 'anyOf()', 2);
  const names = list.map((method) => method.name);
  const { phases, run } = runner(list);
  return {
    name: 'any-of',
    describe: { anyOf: listed(list) },
    ...phases,
    request: async function anyOf(ctx) {
      const missing: GatewayError[] = [];
      for (const method of list) {
        const outcome = await run(method, ctx as RequestContext);
        if (outcome.kind === 'refused') return outcome.error;
        if (outcome.kind === 'answered') return outcome.result;
        if (outcome.kind === 'missing') missing.push(outcome.error);
      }
      return missing.length === list.length ? missingAll(missing, names) : undefined;
    },
  };
};

/**
 * Passes a request that every method authenticates: `allOf(mtls(), apiKey({ keys }))`. The methods
 * run in order and the first refusal ends the request; when credentials of some methods are
 * missing, the 401 `unauthorized` carries the challenges of those.
 */
export const allOf = <const TMethods extends readonly Method[]>(...methods: TMethods): Middleware<Env, ProvidedBy<TMethods>> => {
  const list = checkMethods(methods, 'allOf()', 2);
  const { phases, run } = runner(list);
  return {
    name: 'all-of',
    describe: { allOf: listed(list) },
    ...phases,
    request: async function allOf(ctx) {
      const missing: GatewayError[] = [];
      const missingNames: string[] = [];
      for (const method of list) {
        const outcome = await run(method, ctx as RequestContext);
        if (outcome.kind === 'refused') return outcome.error;
        if (outcome.kind === 'answered') return outcome.result;
        if (outcome.kind === 'missing') {
          missing.push(outcome.error);
          missingNames.push(method.name);
        }
      }
      return missing.length > 0 ? missingAll(missing, missingNames) : undefined;
    },
  };
};

export interface OptionalOptions {
  /**
   * The scope values set when no credentials came. Default `{ consumer: anonymousConsumer }`
   * (`{ id: 'anonymous', tier: 'anonymous', anonymous: true }`), so a rate limit keyed on the
   * consumer limits anonymous callers together, as a tier of their own.
   */
  readonly anonymous?: Readonly<Record<string, unknown>>;
}

/**
 * Lets a request without credentials through as anonymous, and still refuses bad credentials: an
 * expired token, an unknown key, a malformed header are answered as by the method itself.
 * @example get('/catalogue', { use: [optional(apiKey({ keys }))] }) // ctx.get('consumer')?.anonymous
 */
export const optional = <TEnv extends Env, TProvides extends object>(method: Middleware<TEnv, TProvides>, { anonymous = { consumer: anonymousConsumer } }: OptionalOptions = {}): Middleware<TEnv, TProvides & ApiKeyScope> => {
  const [inner] = checkMethods([method], 'optional()', 1);
  if (typeof anonymous !== 'object' || anonymous === null) throw problem('optional()', '`anonymous` must be a record of scope values');
  const values = Object.entries(anonymous);
  const { phases, run } = runner([inner!]);
  return {
    name: `optional-${inner!.name}`,
    describe: { ...inner!.describe, optional: true },
    ...phases,
    request: async function optional(ctx) {
      const outcome = await run(inner!, ctx as RequestContext);
      if (outcome.kind === 'refused') return outcome.error;
      if (outcome.kind === 'answered') return outcome.result;
      if (outcome.kind === 'missing') for (const [key, value] of values) (ctx as RequestContext).set(key, value);
      return undefined;
    },
  } as Middleware<TEnv, TProvides & ApiKeyScope>;
};

/**
 * Lets CORS preflights (`OPTIONS` with `Access-Control-Request-Method`) through a method without
 * credentials, to the upstream that answers them; every other request is checked as before.
 * Browsers never send credentials on a preflight, so a checked preflight always fails.
 * @example service({ prefix: '/v1', use: [allowPreflight(anyOf(jwt({ jwks }), apiKey({ keys })))] }, [all('/{*rest}')])
 */
export const allowPreflight = <TEnv extends Env, TProvides extends object>(method: Middleware<TEnv, TProvides>): Middleware<TEnv, TProvides> => {
  const [inner] = checkMethods([method], 'allowPreflight()', 1);
  const { phases, run } = runner([inner!]);
  return {
    name: inner!.name,
    describe: { ...inner!.describe, preflight: 'pass' },
    ...phases,
    request: async function allowPreflight(ctx) {
      if (isPreflight(ctx as RequestContext)) return undefined;
      const outcome = await run(inner!, ctx as RequestContext);
      return outcome.kind === 'passed' ? undefined : outcome.kind === 'answered' ? outcome.result : outcome.error;
    },
  } as Middleware<TEnv, TProvides>;
};
