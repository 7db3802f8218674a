import { GatewayBuildError } from '@apigate/errors';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { boundedJson } from './bounded-json.ts';

/**
 * A key set as it is kept in a shared cache: the set, and when it was fetched (ms since the
 * epoch). The shape of jose's `ExportedJWKSCache`, so a store written for jose fits.
 */
export interface CachedJwks {
  readonly jwks: JSONWebKeySet;
  readonly uat: number;
}

/**
 * A cache shared by several verifiers of one JWKS URL (Workers isolates over KV, Node workers over
 * Redis): a verifier that needs the set asks it first and fetches only when it holds nothing
 * newer. Only the gateway's own code may write to it: the keys in it are trusted.
 */
export interface JwksCacheStore {
  get(url: string): CachedJwks | undefined | Promise<CachedJwks | undefined>;
  set(url: string, entry: CachedJwks): void | Promise<void>;
}

/** How the remote JWKS is cached and fetched; the defaults are jose's, plus what jose lacks. */
export interface RemoteJwksOptions {
  /** How long a fetched key set is used before it is fetched again, in ms. Default 600 000 (10 min). */
  readonly maxAge?: number;
  /** After a fetch, how long a token with an unknown `kid` is refused without fetching again, in ms. Default 30 000. */
  readonly cooldown?: number;
  /** How long one fetch may take, in ms; then it is aborted. Default 5 000. */
  readonly timeout?: number;
  /** After a failed fetch, how long requests are answered without fetching again, in ms. Default 1 000. */
  readonly failureCooldown?: number;
  /**
   * How long past `maxAge` the last good set keeps serving while the IdP cannot be reached or
   * answers garbage (RFC 5861's stale-if-error), in ms; then 503. Default 3 600 000 (1 h); 0 turns it off.
   */
  readonly staleIfError?: number;
  /** Whether `gateway.ready()` waits for a first fetch. Default true. */
  readonly prefetch?: boolean;
  /** A cache shared with other verifiers of the same URL. */
  readonly store?: JwksCacheStore;
  /** Headers sent with the fetch (an API key of the IdP, say). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The fetch to use (a Workers service binding's, say); the global one by default. */
  readonly fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

/** Thrown by the key lookup when the key set could not be had: the token may well be good. */
export class KeysUnavailable extends Error {
  override readonly name = 'KeysUnavailable';
  /** Seconds until the key set is asked again, for `Retry-After`. */
  readonly retryAfter: number;

  constructor(message: string, { cause, retryAfter }: { cause?: unknown; retryAfter: number }) {
    super(message, cause === undefined ? undefined : { cause });
    this.retryAfter = retryAfter;
  }
}

/** A remote key set: the lookup jwtVerify calls, and the prefetch the middleware's init runs. */
export interface RemoteKeys {
  readonly getKey: JWTVerifyGetKey;
  /** Fetches the set now; a failure is reported, never thrown, so that a down IdP does not stop the gateway. */
  start(report: (error: unknown) => void): void | Promise<void>;
}

const problem = (message: string): GatewayBuildError => new GatewayBuildError([{ code: 'invalid_option', at: 'jwt()', message }]);

// workerd refuses to let one request await I/O another request started: there every fetch is its own.
const onWorkerd = (): boolean => typeof navigator !== 'undefined' && navigator.userAgent === 'Cloudflare-Workers';

interface Held {
  readonly local: JWTVerifyGetKey;
  readonly entry: CachedJwks;
}

/** A set from the IdP or the store, checked the way jose checks a local one; undefined when it is none. */
const hold = (entry: CachedJwks): Held => ({ local: createLocalJWKSet(entry.jwks), entry });
const tryHold = (entry: unknown): Held | undefined => {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { jwks, uat } = entry as Partial<CachedJwks>;
  if (typeof uat !== 'number' || !Number.isFinite(uat) || jwks === undefined) return undefined;
  try {
    return hold({ jwks, uat });
  } catch {
    return undefined;
  }
};

/**
 * The remote JWKS. jose's createRemoteJWKSet is the model (its defaults, its fetch: GET, no
 * redirects, only a 200 with a JSON key set counts; one fetch shared by concurrent requests), but
 * a failed refresh there loses the set it had, its cache is read once and synchronously, and it
 * fetches again on every request while the IdP is down. This keeps the last good set, asks a
 * shared store before the network, and pauses after a failure; jose still picks and imports the keys.
 */
export const remoteKeys = (
  url: URL,
  { maxAge = 600_000, cooldown = 30_000, timeout = 5_000, failureCooldown = 1_000, staleIfError = 3_600_000, prefetch = true, store, headers = {}, fetch: fetchImpl }: RemoteJwksOptions,
): RemoteKeys => {
  for (const [name, value] of Object.entries({ maxAge, cooldown, timeout, failureCooldown, staleIfError })) {
    if (typeof value !== 'number' || !(value >= 0) || (name === 'timeout' && !Number.isInteger(value))) throw problem(`jwksCache.${name} must be a non-negative number of milliseconds`);
  }
  if (store !== undefined && (typeof store !== 'object' || store === null || typeof store.get !== 'function' || typeof store.set !== 'function')) throw problem('jwksCache.store must have get() and set()');
  const href = url.href;
  const requestHeaders = { accept: 'application/json, application/jwk-set+json', ...headers };
  const retryAfter = Math.max(1, Math.ceil(failureCooldown / 1000));

  let held: Held | undefined;
  /** When this verifier last got a set (fetched or from the store): the unknown-kid cooldown counts from it. */
  let refreshedAt = -Infinity;
  let failedUntil = 0;
  let pending: Promise<void> | undefined;
  let report: ((error: unknown) => void) | undefined;

  const fromStore = async (): Promise<Held | undefined> => {
    if (store === undefined) return undefined;
    try {
      const shared = tryHold(await store.get(href));
      // Only a set newer than the one held, and still fresh, saves a fetch.
      return shared !== undefined && shared.entry.uat > (held?.entry.uat ?? -Infinity) && Date.now() - shared.entry.uat < maxAge ? shared : undefined;
    } catch (error) {
      report?.(error);
      return undefined;
    }
  };

  const fetchSet = async (): Promise<Held> => {
    const response = await (fetchImpl ?? globalThis.fetch)(href, { method: 'GET', redirect: 'manual', headers: requestHeaders, signal: AbortSignal.timeout(timeout) });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`the JWKS endpoint answered ${response.status}, not 200`);
    }
    const jwks: unknown = await boundedJson(response);
    return hold({ jwks: jwks as JSONWebKeySet, uat: Date.now() });
  };

  const load = async (): Promise<void> => {
    let next = await fromStore();
    if (next === undefined) {
      next = await fetchSet();
      try {
        await store?.set(href, next.entry);
      } catch (error) {
        report?.(error);
      }
    }
    held = next;
    refreshedAt = Date.now();
  };

  const refresh = (): Promise<void> => {
    if (pending !== undefined && !onWorkerd()) return pending;
    if (Date.now() < failedUntil) return Promise.reject(new KeysUnavailable('the key set failed to load a moment ago', { retryAfter }));
    const attempt: Promise<void> = load()
      .then(
        () => undefined,
        (error: unknown) => {
          failedUntil = Date.now() + failureCooldown;
          report?.(error);
          throw new KeysUnavailable('the key set could not be loaded', { cause: error, retryAfter });
        },
      )
      .finally(() => {
        if (pending === attempt) pending = undefined;
      });
    pending = attempt;
    return attempt;
  };

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (held === undefined || Date.now() - held.entry.uat >= maxAge) {
      try {
        await refresh();
      } catch (error) {
        // Stale-if-error: the IdP being down is no reason to refuse tokens the last good set verifies.
        if (held === undefined || Date.now() - held.entry.uat >= maxAge + staleIfError) throw error;
      }
    }
    try {
      return await held!.local(header, token);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || Date.now() - refreshedAt < cooldown) throw error;
      // A kid the set lacks may be a key the IdP just rotated in: ask once per cooldown, not per token.
      await refresh();
      return held!.local(header, token);
    }
  };

  return {
    getKey,
    start: (reporter) => {
      report = reporter;
      // Without a prefetch the init is synchronous: the routes keep their synchronous path.
      if (!prefetch || held !== undefined) return undefined;
      // refresh() reported a failure already; the first requests fetch again after failureCooldown.
      return refresh().catch(() => undefined);
    },
  };
};
