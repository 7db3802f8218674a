// What an excerpt of the auth docs uses without importing it: @apigate/auth, core's builders, the
// key material of the page's first example, and a route list to mount.
import type { Route } from '@apigate/core';

export { jwt, requireScopes, claimsKey, type JWTPayload } from '@apigate/auth';
export { createGateway, service, get, post, type ProvidedBy } from '@apigate/core';
export const jwks = 'https://idp.example.com/.well-known/jwks.json';
export declare const secret: string;
export declare const routes: readonly Route[];
