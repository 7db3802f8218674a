export { jwt, claimsKey, type JwtOptions, type JwtScope } from './jwt/index.ts';
export { requireScopes, type RequireScopesOptions, type ScopeRequirement } from './scopes/index.ts';
export { hmacAlgorithms, asymmetricAlgorithms, type KeyOptions, type RemoteJwksOptions, type JwksCacheStore, type CachedJwks } from './internal/keys.ts';
export type { TokenSource } from './internal/token.ts';
export type { JWTPayload, JSONWebKeySet, JWK } from 'jose';
export { introspection, type IntrospectionOptions, type IntrospectionCacheOptions, type IntrospectionScope, type IntrospectedClaims } from './introspection/index.ts';
export { apiKey, consumerKey, hashApiKey, memoryKeyStore, type ApiKeyEntry, type ApiKeyOptions, type ApiKeyScope, type ApiKeySource, type Consumer, type HashOptions, type KeyLookup, type MemoryKeyStore } from './api-key/index.ts';
export { cookieSigner, signedCookies, signedCookiesKey, type CookieSigner, type SignedCookiesOptions, type SignedCookiesScope } from './cookies/index.ts';
export { allOf, allowPreflight, anonymousConsumer, anyOf, optional, type OptionalOptions } from './compose/index.ts';
