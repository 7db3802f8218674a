import { GatewayBuildError } from '@apigate/errors';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesOf, constantTimeEqual, toHex, utf8 } from '../internal/bytes.ts';

/** Who an API key belongs to, as apiKey() puts it in scope under `consumer`. */
export interface Consumer {
  /** The consumer's stable identity: what rate limits and logs key on. */
  readonly id: string;
  /** The consumer's plan (`free`, `pro`, `internal`…): what rate-limit tiers choose limits by. */
  readonly tier: string;
  /** A display name, for logs. */
  readonly name?: string;
  /** Anything else the store knows about the consumer (an account id, scopes). */
  readonly meta?: Readonly<Record<string, unknown>>;
  /** True only for the stand-in that optional() puts in scope when no credentials came. */
  readonly anonymous?: boolean;
}

/**
 * Finds the consumer of a key by the key's hash (lower-case hex of SHA-256, or of HMAC-SHA256 with
 * the pepper): what a database is asked. Undefined for an unknown or revoked key. The plain key
 * never reaches it.
 */
export type KeyLookup = (hash: string) => Promise<Consumer | undefined> | Consumer | undefined;

/** One key of an in-memory store: the key itself or its hash, and whom it belongs to. */
export interface ApiKeyEntry {
  /** The key as clients send it; hashed before it is kept. Give this or `hash`. */
  readonly key?: string;
  /** The key's hash as `hashApiKey()` makes it (64 hex digits), so that no plain key sits in the configuration. */
  readonly hash?: string;
  /** The consumer's id. */
  readonly consumer: string;
  /** Default `default`. */
  readonly tier?: string;
  readonly name?: string;
  readonly meta?: Readonly<Record<string, unknown>>;
  /** A revoked key is refused like an unknown one (401 `invalid_api_key`). */
  readonly revoked?: boolean;
}

/** How keys are hashed: SHA-256, or HMAC-SHA256 keyed with a pepper kept apart from the store. */
export interface HashOptions {
  /** A secret mixed into every hash, so that a leaked store of hashes cannot be checked against guessed keys without it. */
  readonly pepper?: string | Uint8Array;
}

/** The characters a key may have: those of base64, base64url, hex, UUIDs and `sk_live_…` keys. */
export const keyCharacters = /^[A-Za-z0-9\-._~+/=:]+$/;
const hexHash = /^[0-9a-f]{64}$/i;

const problem = (at: string, message: string): GatewayBuildError => new GatewayBuildError([{ code: 'invalid_option', at, message }]);

/**
 * A function that hashes keys (SHA-256, or HMAC-SHA256 with the pepper). Synchronous on purpose:
 * WebCrypto's digest runs on Node's thread pool, so on a busy host a key check queued behind
 * other work there, and the first request through an in-memory store waited for every entry's.
 */
export const keyHasher = ({ pepper }: HashOptions = {}, at = 'apiKey()'): ((key: string) => Uint8Array) => {
  if (pepper === undefined) return (key) => sha256(utf8.encode(key));
  const given = typeof pepper === 'string' || pepper instanceof Uint8Array ? bytesOf(pepper) : undefined;
  if (given === undefined || given.byteLength < 16) throw problem(at, '`pepper` must be a string or bytes of 16 bytes or more');
  const secret = new Uint8Array(given);
  return (key) => hmac(sha256, secret, utf8.encode(key));
};

/**
 * The hash of a key as apiKey() looks it up (lower-case hex): store this in a database, or as
 * `hash` in an in-memory entry, instead of the key.
 * @example await hashApiKey('sk_live_…', { pepper: env.API_KEY_PEPPER })
 */
export const hashApiKey = async (key: string, options: HashOptions = {}): Promise<string> => toHex(keyHasher(options, 'hashApiKey()')(key));

/** An in-memory key store: a lookup over a list of entries, and revocation while it runs. */
export interface MemoryKeyStore {
  /** Answers at once: the keys' hashes are in memory. */
  readonly lookup: (hash: string) => Consumer | undefined;
  /** Revokes a key by its plain form or its hash: later requests with it are refused. */
  revoke(keyOrHash: string): Promise<void>;
}

const hexBytes = (hex: string): Uint8Array => {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
};

interface Stored {
  readonly digest: Uint8Array;
  readonly consumer: Consumer;
  revoked: boolean;
}

/**
 * Builds an in-memory store from entries. Plain keys are hashed now and kept only as hashes, and a
 * lookup answers synchronously. A configuration mistake throws a GatewayBuildError now.
 */
export const memoryKeyStore = (entries: readonly ApiKeyEntry[], options: HashOptions = {}, at = 'memoryKeyStore()'): MemoryKeyStore => {
  if (!Array.isArray(entries)) throw problem(at, 'the keys must be a list of { key or hash, consumer, tier }');
  const hash = keyHasher(options, at);
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const where = `${at} keys[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw problem(where, 'an entry is { key or hash, consumer, tier }');
    if ((entry.key === undefined) === (entry.hash === undefined)) throw problem(where, 'give exactly one of `key` or `hash`');
    if (entry.key !== undefined && (typeof entry.key !== 'string' || !keyCharacters.test(entry.key))) throw problem(where, '`key` must be a non-empty string of A-Z a-z 0-9 - . _ ~ + / = :');
    if (entry.hash !== undefined && (typeof entry.hash !== 'string' || !hexHash.test(entry.hash))) throw problem(where, '`hash` must be 64 hex digits, as hashApiKey() makes it');
    if (typeof entry.consumer !== 'string' || entry.consumer === '') throw problem(where, '`consumer` must be a non-empty string');
    if (entry.tier !== undefined && (typeof entry.tier !== 'string' || entry.tier === '')) throw problem(where, '`tier` must be a non-empty string');
    const identity = entry.key !== undefined ? `key:${entry.key}` : `hash:${entry.hash!.toLowerCase()}`;
    if (seen.has(identity)) throw problem(where, 'the same key is listed twice');
    seen.add(identity);
  });

  const consumerOf = (entry: ApiKeyEntry): Consumer =>
    Object.freeze({ id: entry.consumer, tier: entry.tier ?? 'default', ...(entry.name !== undefined && { name: entry.name }), ...(entry.meta !== undefined && { meta: entry.meta }) });

  const table = new Map<string, Stored>();
  for (const entry of entries) {
    const digest = entry.key !== undefined ? hash(entry.key) : hexBytes(entry.hash!.toLowerCase());
    table.set(toHex(digest), { digest, consumer: consumerOf(entry), revoked: entry.revoked === true });
  }

  return {
    // The map is keyed by the hash, so a lookup's timing can only tell about the hash of what was
    // sent, never about a stored key; the stored digest is then compared in constant time all the same.
    lookup: (keyHash) => {
      const found = table.get(keyHash);
      if (found === undefined || found.revoked || !constantTimeEqual(found.digest, hexBytes(keyHash))) return undefined;
      return found.consumer;
    },
    revoke: async (keyOrHash) => {
      const byHash = hexHash.test(keyOrHash) ? table.get(keyOrHash.toLowerCase()) : undefined;
      const stored = byHash ?? table.get(toHex(hash(keyOrHash)));
      if (stored !== undefined) stored.revoked = true;
    },
  };
};
