import type { Env, Middleware } from '@apigate/core';
import { GatewayError } from '@apigate/errors';
import type { JWTPayload } from 'jose';
import { bearerError, type BearerCode } from '../internal/bearer.ts';
import { headerValue } from '../internal/claims.ts';
import { claimHeaderList, nonNegative, optionProblem, sourceList, type BearerOptions } from '../internal/options.ts';
import { describeSource, readToken, removeToken } from '../internal/token.ts';
import { claimsKey } from '../jwt/jwt.ts';
import { checkRealm, hasScopes, parseScopes } from '../scopes/scopes.ts';
import { boundedJson } from '../internal/bounded-json.ts';

/** An active token as the authorization server describes it (RFC 7662 §2.2); it lands in scope under `claims`. */
export interface IntrospectedClaims extends JWTPayload {
  readonly active: true;
  readonly scope?: string;
  readonly client_id?: string;
  readonly username?: string;
  readonly token_type?: string;
}

/** How answers of the authorization server are kept. */
export interface IntrospectionCacheOptions {
  /** How many tokens are remembered; the least recently used goes first. Default 10 000; 0 turns the cache off. */
  readonly maxEntries?: number;
  /** The longest an active answer is used, in ms; never past the token's `exp`. Default 300 000 (5 min). */
  readonly maxAge?: number;
  /** How long an `active: false` answer is used, in ms, so that a flood of bad tokens does not become a flood of calls. Default 30 000. */
  readonly inactiveMaxAge?: number;
}

export interface IntrospectionOptions extends BearerOptions {
  /** The introspection endpoint (RFC 7662 §2), http(s). */
  readonly endpoint: string | URL;
  /** The gateway's client id at the authorization server, with `clientSecret`: sent as HTTP Basic (RFC 6749 §2.3.1). */
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Instead of clientId/clientSecret: the headers that authenticate the gateway (`{ authorization: 'Bearer …' }`). */
  readonly auth?: Readonly<Record<string, string>>;
  /** Sent as `token_type_hint`. Default `access_token`; null sends none. */
  readonly tokenTypeHint?: string | null;
  /** How long one call may take, in ms; then the request is answered 503 `auth_unavailable`. Default 5 000. */
  readonly timeout?: number;
  readonly cache?: IntrospectionCacheOptions;
  /** The fetch to use (a Workers service binding's, say); the global one by default. */
  readonly fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

/** What introspection() provides: the answer for the token under `claims`, as jwt() does. */
export interface IntrospectionScope<TClaims extends IntrospectedClaims = IntrospectedClaims> {
  readonly claims: TClaims;
}

type Answer = { readonly active: true; readonly claims: IntrospectedClaims } | { readonly active: false };

interface Entry {
  readonly answer: Answer;
  readonly until: number;
}

const at = 'introspection()';

/** The cache key: a SHA-256 of the token, so that the cache never holds a usable credential. */
const hashOf = async (token: string): Promise<string> => {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex;
};

// workerd refuses to let one request await I/O another request started: there every call is its own.
const onWorkerd = (): boolean => typeof navigator !== 'undefined' && navigator.userAgent === 'Cloudflare-Workers';

/** Thrown when the authorization server gave no usable answer: the token may well be good. */
class Unavailable extends Error {
  override readonly name = 'IntrospectionUnavailable';
}

const list = (value: string | readonly string[] | undefined): readonly string[] | undefined => (value === undefined ? undefined : typeof value === 'string' ? [value] : [...value]);

/**
 * Checks a token with the authorization server (OAuth 2.0 Token Introspection, RFC 7662) instead of
 * verifying it locally: for opaque tokens, or to honour revocation. Answers are cached, keyed on a
 * SHA-256 of the token, never past the token's `exp`. Refusals are those of jwt() (RFC 6750); an
 * authorization server that is down, slow or answers garbage is 503 `auth_unavailable`.
 * @example
 * const auth = introspection({ endpoint: 'https://idp.example/oauth2/introspect', clientId: 'gateway', clientSecret: env.IDP_SECRET, scopes: ['orders:read'] });
 * service({ prefix: '/orders', use: [auth] }, routes);
 */
export const introspection = <TClaims extends IntrospectedClaims = IntrospectedClaims>(options: IntrospectionOptions): Middleware<Env, IntrospectionScope<TClaims>> => {
  const {
    endpoint,
    clientId,
    clientSecret,
    auth,
    tokenTypeHint = 'access_token',
    timeout = 5_000,
    cache: { maxEntries = 10_000, maxAge = 300_000, inactiveMaxAge = 30_000 } = {},
    issuer,
    audience,
    clockTolerance = 60,
    scopes: requirement,
    realm = 'api',
    from = ['bearer'],
    claimHeaders = {},
    forwardToken = false,
    maxTokenLength = 8192,
    fetch: fetchImpl,
    name = 'introspection',
  } = options;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw optionProblem(at, '`endpoint` is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw optionProblem(at, '`endpoint` must be an http(s) URL');
  const basic = clientId !== undefined || clientSecret !== undefined;
  if (basic && auth !== undefined) throw optionProblem(at, 'give clientId and clientSecret, or auth, not both');
  if (basic && (typeof clientId !== 'string' || clientId === '' || typeof clientSecret !== 'string')) throw optionProblem(at, 'clientId and clientSecret go together, as strings');
  if (!basic && (typeof auth !== 'object' || auth === null)) throw optionProblem(at, 'give clientId and clientSecret, or auth headers: RFC 7662 endpoints authenticate their callers');
  nonNegative(timeout, 'timeout', at, { integer: true });
  nonNegative(maxEntries, 'cache.maxEntries', at, { integer: true });
  nonNegative(maxAge, 'cache.maxAge', at);
  nonNegative(inactiveMaxAge, 'cache.inactiveMaxAge', at);
  nonNegative(clockTolerance, 'clockTolerance', at);
  nonNegative(maxTokenLength, 'maxTokenLength', at, { integer: true });
  checkRealm(realm, at);
  const sources = sourceList(from, at);
  const scopes = requirement === undefined ? undefined : parseScopes(requirement, at);
  const mapped = claimHeaderList(claimHeaders, at);
  const issuers = list(issuer);
  const audiences = list(audience);
  const href = url.href;
  // RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined for Basic.
  const form = (value: string): string => encodeURIComponent(value).replaceAll('%20', '+');
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
    ...(basic ? { authorization: `Basic ${btoa(`${form(clientId!)}:${form(clientSecret!)}`)}` } : auth),
  };

  const cache = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Answer>>();

  const remember = (key: string, answer: Answer): void => {
    if (maxEntries === 0) return;
    const now = Date.now();
    let until = now + (answer.active ? maxAge : inactiveMaxAge);
    // The answer says the token dies at exp: the cache never outlives it.
    if (answer.active && typeof answer.claims.exp === 'number') until = Math.min(until, answer.claims.exp * 1000);
    if (until <= now) return;
    cache.delete(key);
    cache.set(key, { answer, until });
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
  };

  const recall = (key: string): Answer | undefined => {
    const entry = cache.get(key);
    if (entry === undefined) return undefined;
    cache.delete(key);
    if (entry.until <= Date.now()) return undefined;
    // Most recently used last: the first key is the one to drop.
    cache.set(key, entry);
    return entry.answer;
  };

  const ask = async (token: string): Promise<Answer> => {
    const body = `token=${form(token)}${tokenTypeHint === null ? '' : `&token_type_hint=${form(tokenTypeHint)}`}`;
    let response: Response;
    try {
      response = await (fetchImpl ?? globalThis.fetch)(href, { method: 'POST', redirect: 'manual', headers, body, signal: AbortSignal.timeout(timeout) });
    } catch (error) {
      throw new Unavailable('the introspection endpoint could not be reached in time', { cause: error });
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Unavailable(`the introspection endpoint answered ${response.status}, not 200`);
    }
    let json: unknown;
    try {
      json = await boundedJson(response);
    } catch (error) {
      throw new Unavailable('the introspection endpoint answered something that is not JSON, or more than 1 MiB of it', { cause: error });
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json) || typeof (json as { active?: unknown }).active !== 'boolean') {
      throw new Unavailable('the introspection answer has no boolean `active`');
    }
    return (json as { active: boolean }).active ? { active: true, claims: json as IntrospectedClaims } : { active: false };
  };

  const answerFor = async (token: string): Promise<Answer> => {
    const key = await hashOf(token);
    const known = recall(key);
    if (known !== undefined) return known;
    const running = onWorkerd() ? undefined : inflight.get(key);
    if (running !== undefined) return running;
    const call = ask(token).then((answer) => {
      remember(key, answer);
      return answer;
    });
    inflight.set(key, call);
    try {
      return await call;
    } finally {
      if (inflight.get(key) === call) inflight.delete(key);
    }
  };

  const refuse = (code: BearerCode, message: string | undefined, details: unknown): GatewayError => bearerError(code, { realm, message, details });

  /** Why an active answer is still refused, or undefined. */
  const invalid = (claims: IntrospectedClaims): GatewayError | undefined => {
    const now = Date.now() / 1000;
    if (typeof claims.exp === 'number' && claims.exp <= now - clockTolerance) return refuse('invalid_token', 'The access token expired.', { reason: 'exp is past' });
    if (typeof claims.nbf === 'number' && claims.nbf > now + clockTolerance) return refuse('invalid_token', 'The access token is not valid yet.', { reason: 'nbf is ahead' });
    if (issuers !== undefined && !issuers.includes(claims.iss as string)) return refuse('invalid_token', undefined, { reason: 'another issuer', iss: claims.iss });
    if (audiences !== undefined) {
      const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
      if (!aud.some((one) => audiences.includes(one))) return refuse('invalid_token', undefined, { reason: 'another audience', aud: claims.aud });
    }
    return undefined;
  };

  return {
    name,
    describe: {
      security: { type: 'http', scheme: 'bearer' },
      verifiedBy: 'introspection',
      realm,
      tokenFrom: sources.map(describeSource),
      ...(scopes && { scopes: scopes.list, scopeMatch: scopes.match }),
    },
    request: async function introspection(ctx) {
      for (const [, header] of mapped) ctx.headers.delete(header);
      const found = readToken(ctx, sources);
      if (found.kind === 'none') return refuse('unauthorized', undefined, { reason: 'no token' });
      if (found.kind === 'malformed') return refuse('invalid_request', undefined, { reason: found.reason });
      const { token } = found;
      if (token.length > maxTokenLength) return refuse('invalid_token', undefined, { reason: 'the token is longer than maxTokenLength', length: token.length });
      let answer: Answer;
      try {
        answer = await answerFor(token);
      } catch (error) {
        if (error instanceof Unavailable) return new GatewayError('auth_unavailable', { details: { reason: error.message }, cause: error.cause, headers: { 'retry-after': '1' } });
        return new GatewayError('internal', { details: { reason: 'the introspection failed unexpectedly' }, cause: error });
      }
      if (!answer.active) return refuse('invalid_token', undefined, { reason: 'the authorization server says the token is not active' });
      const refusal = invalid(answer.claims);
      if (refusal !== undefined) return refusal;
      if (scopes !== undefined && !hasScopes(answer.claims, scopes)) return bearerError('insufficient_scope', { realm, scope: scopes.list, details: { required: scopes.list, match: scopes.match } });
      ctx.set(claimsKey, answer.claims as TClaims);
      for (const [claim, header] of mapped) {
        const value = headerValue(answer.claims[claim]);
        if (value !== undefined) ctx.headers.set(header, value);
      }
      if (!forwardToken) removeToken(ctx, found.source);
      return undefined;
    },
    close: () => {
      cache.clear();
    },
  };
};
