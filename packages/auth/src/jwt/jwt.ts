import type { Env, Middleware } from '@apigate/core';
import { GatewayError } from '@apigate/errors';
import { base64url, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { bearerError, type BearerCode } from '../internal/bearer.ts';
import { headerValue } from '../internal/claims.ts';
import { KeysUnavailable, keysFrom, type KeyOptions } from '../internal/keys.ts';
import { claimHeaderList, nonNegative, sourceList, type BearerOptions } from '../internal/options.ts';
import { describeSource, readToken, removeToken } from '../internal/token.ts';
import { checkRealm, hasScopes, parseScopes } from '../scopes/scopes.ts';

/** The scope key jwt() puts the verified claims under. */
export const claimsKey = 'claims';

export interface JwtOptions extends KeyOptions, BearerOptions {
  /** The oldest a token may be by its `iat`, in seconds (then `iat` is required). No limit by default. */
  readonly maxTokenAge?: number;
  /** Whether a token without `exp` is refused. Default true: a token that never expires is a choice, not an accident. */
  readonly requireExp?: boolean;
  /** Claims that must be present (`sub`, `jti`, …). */
  readonly requiredClaims?: readonly string[];
  /** The required `typ` header, e.g. `at+jwt` for RFC 9068 access tokens. Not checked when absent. */
  readonly typ?: string;
}

/** What jwt() provides: the verified claims under `claims`. */
export interface JwtScope<TClaims extends JWTPayload = JWTPayload> {
  readonly claims: TClaims;
}

/** Three base64url segments, the signature not empty (an unsecured `alg: none` token has none). */
const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** The token's protected header, when it is a JSON object; nothing else is read before the signature is checked. */
const protectedHeader = (token: string): Record<string, unknown> | undefined => {
  try {
    const header: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64url.decode(token.slice(0, token.indexOf('.')))));
    return typeof header === 'object' && header !== null && !Array.isArray(header) ? (header as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

const codeOf = (error: unknown): string | undefined => {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
};

/**
 * Verifies a JWT on every request and puts its claims in scope under `claims`. Keys come from a
 * shared secret, a public key, a local JWK set or a remote JWKS URL (cached); the algorithm comes
 * from the configuration or the key, never from the token. Refusals follow RFC 6750: 401 with a
 * `WWW-Authenticate: Bearer` challenge when no token came or it is invalid (`invalid_token`), 400
 * `invalid_request` for malformed credentials, 403 `insufficient_scope` for missing scopes, and
 * 503 `auth_unavailable` when a remote key set cannot be loaded.
 * @example
 * const auth = jwt({ jwks: 'https://idp.example/.well-known/jwks.json', issuer: 'https://idp.example/', audience: 'orders', claimHeaders: { sub: 'x-user-id' } });
 * service({ prefix: '/orders', use: [auth] }, ({ get }) => [get('/', { before: (ctx) => void ctx.get('claims')?.sub })]);
 */
export const jwt = <TClaims extends JWTPayload = JWTPayload>(options: JwtOptions): Middleware<Env, JwtScope<TClaims>> => {
  const {
    issuer,
    audience,
    clockTolerance = 60,
    maxTokenAge,
    requireExp = true,
    requiredClaims = [],
    typ,
    scopes: requirement,
    realm = 'api',
    from = ['bearer'],
    claimHeaders = {},
    forwardToken = false,
    maxTokenLength = 8192,
    name = 'jwt',
  } = options;
  const keys = keysFrom(options);
  checkRealm(realm, 'jwt()');
  nonNegative(clockTolerance, 'clockTolerance', 'jwt()');
  nonNegative(maxTokenAge, 'maxTokenAge', 'jwt()');
  nonNegative(maxTokenLength, 'maxTokenLength', 'jwt()', { integer: true });
  const sources = sourceList(from, 'jwt()');
  const scopes = requirement === undefined ? undefined : parseScopes(requirement, 'jwt()');
  const mapped = claimHeaderList(claimHeaders, 'jwt()');
  const verifyOptions: JWTVerifyOptions = {
    algorithms: [...keys.algorithms],
    issuer: typeof issuer === 'string' ? issuer : issuer === undefined ? undefined : [...issuer],
    audience: typeof audience === 'string' ? audience : audience === undefined ? undefined : [...audience],
    clockTolerance,
    maxTokenAge,
    typ,
    requiredClaims: [...new Set([...(requireExp ? ['exp'] : []), ...requiredClaims])],
  };
  const refuse = (code: BearerCode, message: string | undefined, details: unknown, cause?: unknown): GatewayError => bearerError(code, { realm, message, details, cause });

  /** A failed verification as the client hears it: a key set that could not be had is not the token's fault. */
  const refusal = (error: unknown): GatewayError => {
    if (error instanceof KeysUnavailable) {
      return new GatewayError('auth_unavailable', { details: { reason: error.message }, cause: error.cause, headers: { 'retry-after': String(error.retryAfter) } });
    }
    const code = codeOf(error);
    if (code === 'ERR_JWT_EXPIRED') return refuse('invalid_token', 'The access token expired.', { reason: code }, error);
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
      const { claim, reason } = error as { claim?: string; reason?: string };
      const message = claim === 'nbf' || (claim === 'iat' && reason === 'check_failed') ? 'The access token is not valid yet.' : undefined;
      return refuse('invalid_token', message, { reason: code, claim, check: reason }, error);
    }
    if (code?.startsWith('ERR_J')) return refuse('invalid_token', undefined, { reason: code }, error);
    return new GatewayError('internal', { details: { reason: 'the token check failed unexpectedly' }, cause: error });
  };

  const describe: Record<string, unknown> = {
    security: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    realm,
    tokenFrom: sources.map(describeSource),
    ...(scopes && { scopes: scopes.list, scopeMatch: scopes.match }),
  };

  const { remote } = keys;
  return {
    name,
    describe,
    // A remote set is fetched before the gateway is ready; an IdP down at startup is reported, not fatal.
    ...(remote !== undefined && { init: ({ report }: { report: (error: unknown) => void }) => remote.start(report) }),
    request: async function jwt(ctx) {
      // Whatever the outcome, a client never sets the headers the upstream trusts as the gateway's.
      for (const [, header] of mapped) ctx.headers.delete(header);
      const found = readToken(ctx, sources);
      if (found.kind === 'none') return refuse('unauthorized', undefined, { reason: 'no token' });
      if (found.kind === 'malformed') return refuse('invalid_request', undefined, { reason: found.reason });
      const { token } = found;
      if (token.length > maxTokenLength) return refuse('invalid_token', undefined, { reason: 'the token is longer than maxTokenLength', length: token.length });
      if (!compactJws.test(token)) return refuse('invalid_token', undefined, { reason: 'not a signed JWT in compact form (three base64url segments)' });
      const header = protectedHeader(token);
      if (header === undefined) return refuse('invalid_token', undefined, { reason: 'the token header is not a JSON object' });
      // Checked before any key is looked up: an algorithm outside the list never reaches a key set or the network.
      if (typeof header.alg !== 'string' || !keys.algorithms.includes(header.alg)) return refuse('invalid_token', undefined, { reason: 'algorithm not allowed', alg: header.alg });
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(token, keys.getKey, verifyOptions));
      } catch (error) {
        return refusal(error);
      }
      if (scopes !== undefined && !hasScopes(claims, scopes)) return bearerError('insufficient_scope', { realm, scope: scopes.list, details: { required: scopes.list, match: scopes.match } });
      ctx.set(claimsKey, claims as TClaims);
      for (const [claim, headerName] of mapped) {
        const value = headerValue(claims[claim]);
        if (value !== undefined) ctx.headers.set(headerName, value);
      }
      if (!forwardToken) removeToken(ctx, found.source);
      return undefined;
    },
  };
};
