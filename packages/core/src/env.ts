/**
 * The types a gateway's routes share: `state` is the app-wide value given to `createGateway`,
 * `scope` the values hooks set per request, `bindings` what the platform gives every request (a
 * Worker's env: KV namespaces, vars, secrets), as Hono's `Bindings`.
 * @example type AppEnv = { state: { db: Db }; scope: { user: User }; bindings: { JWKS_URL: string } }
 */
export interface Env {
  // `| undefined`: an app compiled with exactOptionalPropertyTypes reads an optional member of a
  // generic TEnv as `T | undefined`, and derived Envs (WithScope's Omit<TEnv, 'scope'>) must still
  // satisfy this constraint there (TS2344 in the published .d.ts otherwise).
  state?: object | undefined;
  scope?: object | undefined;
  bindings?: object | undefined;
}

/** The declared state, or an open record for hooks written without an Env (reusable middleware). */
export type StateOf<TEnv extends Env> = TEnv extends { state: infer S } ? S : Readonly<Record<string, unknown>>;
/** The declared scope, or an open record for hooks written without an Env (reusable middleware). */
export type ScopeOf<TEnv extends Env> = TEnv extends { scope: infer S } ? S : Record<string, unknown>;

/** No scope values: what middleware that declare none provide. */
export type NoScope = Record<never, never>;

/**
 * The Env with these scope values added to its scope: what the hooks of a route see when its
 * middleware (route or service level) provide them. An Env without a declared scope stays open.
 * @example type MeEnv = WithScope<AppEnv, ProvidedBy<typeof auth>>
 */
export type WithScope<TEnv extends Env, TScope extends object> = NoScope extends TScope ? TEnv : Omit<TEnv, 'scope'> & { scope: ScopeOf<TEnv> & TScope };

/** The keys both hold whose provided type is not the declared one. */
type Conflicts<TScope, TProvided> = {
  [K in keyof TProvided & keyof TScope]-?: [TProvided[K]] extends [TScope[K]] ? never : K;
}[keyof TProvided & keyof TScope];

/**
 * A compile error when middleware provide a scope key with another type than the Env declares for
 * it (a hook reading `claims` as a string that auth sets as an object); keys only one side names
 * are fine.
 */
export type ScopeMatches<TEnv extends Env, TProvided extends object> = [Conflicts<ScopeOf<TEnv>, TProvided>] extends [never]
  ? unknown
  : { [K in Conflicts<ScopeOf<TEnv>, TProvided> & string as `scope "${K}": a middleware provides another type than the Env declares`]: never };
/** The declared bindings, or an open record for hooks written without an Env (reusable middleware). */
export type BindingsOf<TEnv extends Env> = TEnv extends { bindings: infer B extends object } ? B : Readonly<Record<string, unknown>>;
