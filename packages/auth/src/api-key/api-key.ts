import type { Env, Middleware, RequestContext } from '@apigate/core';
import { GatewayBuildError, GatewayError } from '@apigate/errors';
import { quotable } from '../internal/bearer.ts';
import { toHex } from '../internal/bytes.ts';
import { headerValue } from '../internal/claims.ts';
import { parseCookies, unquote } from '../internal/cookie-header.ts';
import { isPreflight } from '../internal/preflight.ts';
import { removeToken } from '../internal/token.ts';
import { checkRealm } from '../scopes/scopes.ts';
import { keyCharacters, keyHasher, memoryKeyStore, type ApiKeyEntry, type Consumer, type KeyLookup } from './store.ts';

/** The scope key apiKey() puts the consumer under. */
export const consumerKey = 'consumer';

/** What apiKey() provides: the key's consumer under `consumer`. */
export interface ApiKeyScope<TConsumer extends Consumer = Consumer> {
  readonly consumer: TConsumer;
}

/** Where a key may come from: a header, a query parameter (it ends up in access logs: only when asked for), or a cookie. */
export type ApiKeySource = { readonly header: string } | { readonly query: string } | { readonly cookie: string };

export interface ApiKeyOptions {
  /** An in-memory store: the keys (or their hashes) and their consumers. Give this or `lookup`. */
  readonly keys?: readonly ApiKeyEntry[];
  /** A lookup by the key's hash (a database). Give this or `keys`. */
  readonly lookup?: KeyLookup;
  /** Keys are hashed with HMAC-SHA256 keyed with this instead of plain SHA-256; the same for `keys` and `lookup`. */
  readonly pepper?: string | Uint8Array;
  /** Where the key is read, in this order. Default `[{ header: 'x-api-key' }]`. */
  readonly from?: readonly ApiKeySource[];
  /** Whether the key goes on to the upstream. Default false: it is removed from the header, query or Cookie. */
  readonly forwardKey?: boolean;
  /** How long `lookup` may take, in ms; then the request is answered 503 `auth_unavailable`. Default 2000. */
  readonly timeout?: number;
  /** Longer keys are refused (401 `invalid_api_key`) before they are hashed, in characters. Default 256. */
  readonly maxKeyLength?: number;
  /**
   * The consumer sent upstream as headers, `{ id: 'x-consumer-id', tier: 'x-consumer-tier' }`. A
   * header of that name the client sent is always removed first, so the upstream can trust it.
   */
  readonly consumerHeaders?: { readonly id?: string; readonly tier?: string };
  /** The realm of the `WWW-Authenticate: ApiKey` challenge. Default `api`. */
  readonly realm?: string;
  /** Lets CORS preflights (`OPTIONS` with `Access-Control-Request-Method`) through without a key. Default false. */
  readonly allowPreflight?: boolean;
  /** The middleware's name, for `gateway.routes()` and error reports. Default `api-key`. */
  readonly name?: string;
}

/** A header name as Node and fetch accept it. */
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers a key may not be read from: they carry other credentials, or the framing of the request. */
const reserved = new Set(['authorization', 'cookie', 'host', 'content-length', 'transfer-encoding', 'connection']);

const problem = (message: string): GatewayBuildError => new GatewayBuildError([{ code: 'invalid_option', at: 'apiKey()', message }]);

/** What the request carried. */
type Found =
  | { readonly kind: 'key'; readonly key: string; readonly source: ApiKeySource }
  | { readonly kind: 'malformed'; readonly reason: string }
  | { readonly kind: 'too-long'; readonly length: number }
  | { readonly kind: 'none' };

const none: Found = { kind: 'none' };
const malformed = (reason: string): Found => ({ kind: 'malformed', reason });

const decoded = (part: string): string | undefined => {
  try {
    return decodeURIComponent(part.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
};

/** Every value the request carries in one source, in order; undefined for malformed percent-encoding. */
const valuesIn = (context: RequestContext, source: ApiKeySource): string[] | undefined => {
  if ('header' in source) {
    const value = context.headers.get(source.header);
    return value === undefined ? [] : [value];
  }
  if ('cookie' in source) {
    const header = context.headers.get('cookie');
    return header === undefined ? [] : parseCookies(header).filter((pair) => pair.name === source.cookie).map((pair) => unquote(pair.value).value);
  }
  if (context.query === '') return [];
  const values: (string | undefined)[] = [];
  for (const part of context.query.split('&')) {
    const eq = part.indexOf('=');
    if (decoded(eq === -1 ? part : part.slice(0, eq)) !== source.query) continue;
    values.push(eq === -1 ? '' : decoded(part.slice(eq + 1)));
  }
  return values.some((value) => value === undefined) ? undefined : (values as string[]);
};

const describeSource = (source: ApiKeySource): string => ('header' in source ? `header:${source.header}` : 'query' in source ? `query:${source.query}` : `cookie:${source.cookie}`);

/** The key from the configured sources. An empty key, a malformed one, or a key in more than one place is `invalid_request`. */
const readKey = (context: RequestContext, sources: readonly ApiKeySource[], maxKeyLength: number): Found => {
  let found: Found = none;
  for (const source of sources) {
    const values = valuesIn(context, source);
    const where = describeSource(source);
    if (values === undefined) return malformed(`${where} has malformed percent-encoding`);
    if (values.length === 0) continue;
    if (values.length > 1) return malformed(`${where} is sent more than once`);
    if (found.kind === 'key') return malformed('a key is sent in more than one place');
    const key = values[0]!;
    if (key === '') return malformed(`${where} is empty`);
    // Before the character check: a key that long is not ours, whatever it holds (and two joined
    // headers of sane keys are never that long).
    if (key.length > maxKeyLength) return { kind: 'too-long', length: key.length };
    // Two headers of the name arrive joined by `, `, which no key holds.
    if (!keyCharacters.test(key)) return malformed(`${where} has characters a key cannot have`);
    found = { kind: 'key', key, source };
  }
  return found;
};

const sourceList = (from: readonly ApiKeySource[]): readonly ApiKeySource[] => {
  if (!Array.isArray(from) || from.length === 0) throw problem('`from` must be a non-empty list of key sources');
  for (const source of from) {
    if (typeof source !== 'object' || source === null) throw problem('`from` holds { header }, { query } or { cookie }');
    if ('header' in source) {
      if (typeof source.header !== 'string' || !headerName.test(source.header)) throw problem('`from` header must be a header name');
      if (reserved.has(source.header.toLowerCase())) throw problem(`a key cannot be read from the ${source.header} header`);
    } else if ('query' in source) {
      if (typeof source.query !== 'string' || source.query === '') throw problem('`from` query must be a parameter name');
    } else if (!('cookie' in source) || typeof source.cookie !== 'string' || !headerName.test(source.cookie)) {
      throw problem('`from` holds { header }, { query } or { cookie }');
    }
  }
  return [...from];
};

/** Waits for the lookup, at most `timeout` ms; the timer never outlives the request. */
const bounded = async <T>(work: Promise<T>, timeout: number): Promise<T | typeof timedOut> => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([work, new Promise<typeof timedOut>((resolve) => (timer = setTimeout(resolve, timeout, timedOut)))]);
  } finally {
    clearTimeout(timer);
  }
};
const timedOut = Symbol('timed out');

const isThenable = <T>(value: T | PromiseLike<T>): value is PromiseLike<T> => typeof (value as PromiseLike<T> | undefined)?.then === 'function';

const isConsumer = (value: unknown): value is Consumer =>
  typeof value === 'object' && value !== null && typeof (value as Consumer).id === 'string' && (value as Consumer).id !== '' && typeof (value as Consumer).tier === 'string';

/** The `WWW-Authenticate` challenge: where the key goes, and the error once one was sent. */
export const apiKeyChallenge = (realm: string, sources: readonly ApiKeySource[], error?: 'invalid_request' | 'invalid_api_key'): string => {
  const params = [`realm="${realm}"`];
  const named = new Set<string>();
  for (const source of sources) {
    const [where, name] = 'header' in source ? ['header', source.header] : 'query' in source ? ['query', source.query] : ['cookie', source.cookie];
    // An auth-param appears once per challenge (RFC 9110 §11.2): the first source of each kind is named.
    if (named.has(where) || !quotable.test(name)) continue;
    named.add(where);
    params.push(`${where}="${name}"`);
  }
  if (error !== undefined) params.push(`error="${error}"`);
  return `ApiKey ${params.join(', ')}`;
};

/**
 * Checks an API key on every request and puts its consumer (`{ id, tier }`) in scope under
 * `consumer`. The key is read from `X-Api-Key` by default (a query parameter or a cookie by option),
 * hashed with SHA-256 (HMAC-SHA256 with a pepper) and looked up by its hash in
 * an in-memory store or your own lookup; it is removed before the upstream. No key is 401
 * `unauthorized`, an unknown or revoked one 401 `invalid_api_key`, a malformed one 400
 * `invalid_request`, each with a `WWW-Authenticate: ApiKey` challenge; a lookup that throws or is
 * slower than `timeout` is 503 `auth_unavailable`.
 * @example
 * const keys = apiKey({ keys: [{ hash: '9f86d0…', consumer: 'acme', tier: 'pro' }], consumerHeaders: { id: 'x-consumer-id' } });
 * service({ prefix: '/v1', use: [keys, rateLimit({ key: byScope('consumer', { select: (c) => (c as Consumer).id }), limits })] }, routes);
 */
export const apiKey = <TConsumer extends Consumer = Consumer>(options: ApiKeyOptions): Middleware<Env, ApiKeyScope<TConsumer>> => {
  if (typeof options !== 'object' || options === null) throw problem('give apiKey() its options: { keys } or { lookup }');
  const {
    keys,
    lookup: given,
    pepper,
    from = [{ header: 'x-api-key' }],
    forwardKey = false,
    timeout = 2_000,
    maxKeyLength = 256,
    consumerHeaders = {},
    realm = 'api',
    allowPreflight = false,
    name = 'api-key',
  } = options;
  if ((keys === undefined) === (given === undefined)) throw problem('give exactly one of `keys` (an in-memory store) or `lookup`');
  if (given !== undefined && typeof given !== 'function') throw problem('`lookup` must be a function of the key hash');
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout <= 0) throw problem('`timeout` must be a positive whole number of milliseconds');
  if (typeof maxKeyLength !== 'number' || !Number.isInteger(maxKeyLength) || maxKeyLength <= 0) throw problem('`maxKeyLength` must be a positive whole number');
  checkRealm(realm, 'apiKey()');
  const sources = sourceList(from);
  const mapped = Object.entries(consumerHeaders).filter((entry): entry is [string, string] => entry[1] !== undefined);
  for (const [field, header] of mapped) {
    if ((field !== 'id' && field !== 'tier') || typeof header !== 'string' || !headerName.test(header) || reserved.has(header.toLowerCase())) {
      throw problem(`consumerHeaders.${field} must be a header name other than Authorization or Cookie, for id or tier`);
    }
  }
  const hash = keyHasher({ pepper });
  const lookup: KeyLookup = given ?? memoryKeyStore(keys!, { pepper }, 'apiKey()').lookup;

  const refuse = (code: 'unauthorized' | 'invalid_request' | 'invalid_api_key', details: unknown): GatewayError =>
    new GatewayError(code, { details, headers: { 'www-authenticate': apiKeyChallenge(realm, sources, code === 'unauthorized' ? undefined : code) } });
  const unavailable = (reason: string, cause?: unknown): GatewayError => new GatewayError('auth_unavailable', { details: { reason }, cause, headers: { 'retry-after': '1' } });

  const first = sources[0]!;
  const describe: Record<string, unknown> = {
    security: { type: 'apiKey', in: 'header' in first ? 'header' : 'query' in first ? 'query' : 'cookie', name: 'header' in first ? first.header : 'query' in first ? first.query : first.cookie },
    realm,
    keyFrom: sources.map(describeSource),
    ...(allowPreflight && { preflight: 'pass' }),
  };

  return {
    name,
    describe,
    request: async function apiKey(ctx) {
      for (const [, header] of mapped) ctx.headers.delete(header);
      if (allowPreflight && isPreflight(ctx)) return undefined;
      const found = readKey(ctx, sources, maxKeyLength);
      if (found.kind === 'none') return refuse('unauthorized', { reason: 'no key' });
      if (found.kind === 'malformed') return refuse('invalid_request', { reason: found.reason });
      if (found.kind === 'too-long') return refuse('invalid_api_key', { reason: 'the key is longer than maxKeyLength', length: found.length });
      const keyHash = toHex(hash(found.key));
      let consumer: Consumer | undefined | typeof timedOut;
      try {
        const answer = lookup(keyHash);
        // Only a lookup that is waiting on something (a database) races the timer: one that
        // answered at once, as the in-memory store does, cannot time out however busy the host is.
        consumer = isThenable(answer) ? await bounded(Promise.resolve(answer), timeout) : answer;
      } catch (error) {
        return unavailable('the key lookup failed', error);
      }
      if (consumer === timedOut) return unavailable(`the key lookup did not answer within ${timeout} ms`);
      // A short prefix of the hash tells logs which key it was without making the log a key store.
      if (consumer === undefined) return refuse('invalid_api_key', { reason: 'unknown or revoked key', hash: keyHash.slice(0, 12) });
      if (!isConsumer(consumer)) return new GatewayError('internal', { details: { reason: 'the key lookup answered something that is not a consumer ({ id, tier })' } });
      ctx.set(consumerKey, consumer as TConsumer);
      for (const [field, header] of mapped) {
        const value = headerValue(field === 'id' ? consumer.id : consumer.tier);
        if (value !== undefined) ctx.headers.set(header, value);
      }
      if (!forwardKey) {
        if ('header' in found.source) ctx.headers.delete(found.source.header);
        else removeToken(ctx, found.source);
      }
      return undefined;
    },
  };
};
