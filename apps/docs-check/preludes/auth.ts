// What an excerpt of the auth docs uses without importing it: @apigate/auth, core's builders, the
// key material of the page's first example, and a route list to mount.
import type { KeyLookup } from '@apigate/auth';
import type { Gateway, Middleware, Route } from '@apigate/core';

export {
  jwt,
  requireScopes,
  claimsKey,
  introspection,
  apiKey,
  hashApiKey,
  memoryKeyStore,
  cookieSigner,
  signedCookies,
  allOf,
  anyOf,
  allowPreflight,
  optional,
  type CachedJwks,
  type Consumer,
  type JwksCacheStore,
  type JWTPayload,
} from '@apigate/auth';
export { createGateway, service, get, post, all, type ProvidedBy } from '@apigate/core';
/** A Worker's bindings (a KV namespace for keys) and secrets, as the page's Workers examples read them. */
export declare const env: {
  readonly JWKS: { get(key: string, type: 'json'): Promise<unknown>; put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void> };
  readonly IDP_CLIENT_SECRET: string;
  readonly COOKIE_KEY_2026: string;
  readonly COOKIE_KEY_2025: string;
};
/** The reader's own key lookup (a database). */
export declare const lookup: KeyLookup;
/** A list of keys, a cookie key and a rate limit made earlier on the page. */
export declare const keys: readonly { key: string; consumer: string; tier?: string }[];
export declare const cookieKey: string;
export declare const quota: Middleware;
export declare const gateway: Gateway;
export const jwks = 'https://idp.example.com/.well-known/jwks.json';
export declare const secret: string;
export declare const routes: readonly Route[];
