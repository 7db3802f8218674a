export { jwt, claimsKey, type JwtOptions, type JwtScope } from './jwt/index.ts';
export { requireScopes, type RequireScopesOptions, type ScopeRequirement } from './scopes/index.ts';
export { hmacAlgorithms, asymmetricAlgorithms, type KeyOptions, type RemoteJwksOptions, type JwksCacheStore, type CachedJwks } from './internal/keys.ts';
export type { TokenSource } from './internal/token.ts';
export type { JWTPayload, JSONWebKeySet, JWK } from 'jose';
export { introspection, type IntrospectionOptions, type IntrospectionCacheOptions, type IntrospectionScope, type IntrospectedClaims } from './introspection/index.ts';
