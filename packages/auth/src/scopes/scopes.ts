import type { Middleware } from '@apigate/core';
import { GatewayBuildError } from '@apigate/errors';
import type { JWTPayload } from 'jose';
import { bearerError, quotable, scopeToken } from '../internal/bearer.ts';
import { grantedScopes } from '../internal/claims.ts';

/** The scopes a route needs: all of a list (a plain list means all), or any one of it. */
export type ScopeRequirement = readonly string[] | { readonly all: readonly string[] } | { readonly any: readonly string[] };

/** A requirement checked once, at configuration time. */
export interface Scopes {
  readonly list: readonly string[];
  readonly match: 'all' | 'any';
}

export const parseScopes = (requirement: ScopeRequirement, at: string): Scopes => {
  const [list, match]: [unknown, 'all' | 'any'] = Array.isArray(requirement)
    ? [requirement, 'all']
    : typeof requirement === 'object' && requirement !== null && 'any' in requirement
      ? [requirement.any, 'any']
      : [(requirement as { all?: unknown }).all, 'all'];
  if (!Array.isArray(list) || list.length === 0 || !list.every((scope) => typeof scope === 'string' && scopeToken.test(scope))) {
    throw new GatewayBuildError([{ code: 'invalid_option', at, message: 'scopes must be a non-empty list of scope tokens (no spaces, quotes or backslashes), or { all } / { any } of one' }]);
  }
  return { list: [...(list as string[])], match };
};

/** Whether the claims grant what the requirement asks. */
export const hasScopes = (claims: JWTPayload, { list, match }: Scopes): boolean => {
  const granted = grantedScopes(claims);
  return match === 'all' ? list.every((scope) => granted.has(scope)) : list.some((scope) => granted.has(scope));
};

export const checkRealm = (realm: unknown, at: string): string => {
  if (typeof realm !== 'string' || realm === '' || !quotable.test(realm)) {
    throw new GatewayBuildError([{ code: 'invalid_option', at, message: '`realm` must be a non-empty string without quotes, backslashes or control characters' }]);
  }
  return realm;
};

export interface RequireScopesOptions {
  /** The realm of the challenge; give the one of the jwt() before it. Default `api`. */
  readonly realm?: string;
  /** The scope key the claims are read from. Default `claims` (where jwt() puts them). */
  readonly from?: string;
}

/**
 * Refuses a request whose verified claims lack the scopes, 403 `insufficient_scope`; put it on a
 * route behind a `jwt()` at service or gateway level. Without claims in scope (no jwt() before
 * it) the request is refused 401.
 * @example
 * service({ prefix: '/orders', use: [jwt({ jwks })] }, [
 *   get('/{id}', { use: [requireScopes(['orders:read'])] }),
 *   post('/', { use: [requireScopes({ any: ['orders:write', 'admin'] })] }),
 * ]);
 */
export const requireScopes = (requirement: ScopeRequirement, { realm = 'api', from = 'claims' }: RequireScopesOptions = {}): Middleware => {
  const scopes = parseScopes(requirement, 'requireScopes()');
  checkRealm(realm, 'requireScopes()');
  return {
    name: 'require-scopes',
    describe: { scopes: scopes.list, scopeMatch: scopes.match },
    request: function requireScopes(ctx) {
      const claims = ctx.get(from) as JWTPayload | undefined;
      if (typeof claims !== 'object' || claims === null) return bearerError('unauthorized', { realm, details: { reason: `no verified claims in scope "${from}": is a jwt() before requireScopes()?` } });
      if (!hasScopes(claims, scopes)) return bearerError('insufficient_scope', { realm, scope: scopes.list, details: { required: scopes.list, match: scopes.match } });
      return undefined;
    },
  };
};
