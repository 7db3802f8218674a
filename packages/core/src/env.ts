/**
 * The types a gateway's routes share: `state` is the app-wide value given to `createGateway`,
 * `scope` the values hooks set per request, `bindings` what the platform gives every request (a
 * Worker's env: KV namespaces, vars, secrets), as Hono's `Bindings`.
 * @example type AppEnv = { state: { db: Db }; scope: { user: User }; bindings: { JWKS_URL: string } }
 */
export interface Env {
  state?: object;
  scope?: object;
  bindings?: object;
}

/** The declared state, or an open record for hooks written without an Env (reusable middleware). */
export type StateOf<TEnv extends Env> = TEnv extends { state: infer S } ? S : Readonly<Record<string, unknown>>;
/** The declared scope, or an open record for hooks written without an Env (reusable middleware). */
export type ScopeOf<TEnv extends Env> = TEnv extends { scope: infer S } ? S : Record<string, unknown>;
/** The declared bindings, or an open record for hooks written without an Env (reusable middleware). */
export type BindingsOf<TEnv extends Env> = TEnv extends { bindings: infer B extends object } ? B : Readonly<Record<string, unknown>>;
