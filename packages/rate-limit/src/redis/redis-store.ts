import { createHash, randomUUID } from 'node:crypto';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import type { Acquired, ConcurrencyStore, LimitCheck, Outcome, RateLimitStore } from '../store.ts';
import { acquireScript, decideScript, renewScript } from './script.ts';

export interface RedisStoreOptions {
  /**
   * Your ioredis client (a `Redis` or a `Cluster`); the store never closes it. Create it with
   * `enableOfflineQueue: false` so that commands fail at once while Redis is away, rather than
   * waiting in a queue to spend limits after the requests they were for have gone on.
   */
  client?: Redis | Cluster;
  /** Or a `redis://` URL: the store makes a client (offline queue off) and closes it in `close()`. */
  url?: string;
  /** Prefix of every key; default `apigate:rl:`. */
  prefix?: string;
  /**
   * Milliseconds a decision may take before the limiter's failure mode applies (open by default);
   * default 50. Redis on the same network answers in well under a millisecond.
   */
  timeout?: number;
  /**
   * For a concurrency limit: how long a place is held for an instance that stops renewing it (a
   * crash, a lost connection) before other instances may take it; default 30 s. A live instance
   * renews the leases of its requests in flight every third of it, so requests may last longer.
   */
  leaseMs?: number;
}

const codes = { 'token-bucket': 'tb', 'fixed-window': 'fw', 'sliding-window': 'sw' } as const;

const sha1 = (script: string): string => createHash('sha1').update(script).digest('hex');
const scripts = { decide: { text: decideScript, sha: sha1(decideScript) }, acquire: { text: acquireScript, sha: sha1(acquireScript) }, renew: { text: renewScript, sha: sha1(renewScript) } };

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith('NOSCRIPT');

/**
 * A RateLimitStore in Redis, shared by every gateway instance that uses the same Redis: one
 * atomic Lua script per request (EVALSHA, loaded again after a Redis restart or SCRIPT FLUSH),
 * Redis's clock, keys `<prefix>{<limiter>:<key>}:<tier>:<limit>` whose hash tag keeps one
 * subject's limits in one Redis Cluster slot, and a PX expiry on every write. It is a
 * concurrency store too: places are leases in a sorted set per key, expiring unless renewed.
 */
export class RedisStore implements RateLimitStore, ConcurrencyStore {
  readonly timeout: number;
  readonly #client: Redis | Cluster;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #leaseMs: number;
  /** The leases this instance holds (lease id to Redis key), renewed while held. */
  readonly #held = new Map<string, string>();
  #renewing: ReturnType<typeof setInterval> | undefined;
  #closed: Promise<void> | undefined;

  constructor({ client, url, prefix = 'apigate:rl:', timeout = 50, leaseMs = 30_000 }: RedisStoreOptions) {
    if ((client === undefined) === (url === undefined)) throw new TypeError('@apigate/rate-limit: redisStore takes a client or a url, one of them');
    if (!Number.isFinite(timeout) || timeout <= 0) throw new TypeError(`@apigate/rate-limit: redisStore timeout must be a positive number of ms, got ${String(timeout)}`);
    if (!Number.isFinite(leaseMs) || leaseMs < 100) throw new TypeError(`@apigate/rate-limit: redisStore leaseMs must be a number of ms of at least 100, got ${String(leaseMs)}`);
    const options: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 0 };
    this.#client = client ?? new Redis(url!, options);
    this.#owned = client === undefined;
    this.#prefix = prefix;
    this.timeout = timeout;
    this.#leaseMs = Math.round(leaseMs);
  }

  /** The Redis key of one check (exported through the store for tests and for operators' tooling). */
  keyOf(check: LimitCheck): string {
    return `${this.#prefix}{${check.subject}}:${check.id}`;
  }

  async consume(checks: readonly LimitCheck[]): Promise<readonly Outcome[]> {
    const keys = checks.map((check) => this.keyOf(check));
    const args = checks.flatMap((check) => {
      const { limit } = check;
      return [codes[limit.algorithm], String(limit.algorithm === 'token-bucket' ? limit.intervalMs : limit.windowMs), String(limit.quota), String(check.cost)];
    });
    const numbers = (await this.#run(scripts.decide, keys, args)) as number[];
    return checks.map((_, i) => ({ allowed: numbers[i * 4] === 1, remaining: numbers[i * 4 + 1]!, resetMs: numbers[i * 4 + 2]!, retryAfterMs: numbers[i * 4 + 3]! }));
  }

  async acquire(key: string, max: number): Promise<Acquired> {
    const redisKey = `${this.#prefix}{${key}}:concurrency`;
    const lease = randomUUID();
    const [allowed, inFlight] = (await this.#run(scripts.acquire, [redisKey], [String(max), String(this.#leaseMs), lease])) as [number, number];
    if (allowed !== 1) return { allowed: false, inFlight };
    this.#held.set(lease, redisKey);
    this.#renewing ??= setInterval(() => this.#renew(), Math.max(50, Math.floor(this.#leaseMs / 3)));
    // Renewal must not keep a process alive that has nothing else to do.
    this.#renewing.unref?.();
    return { allowed: true, inFlight, lease };
  }

  async release(_key: string, lease: string): Promise<void> {
    const redisKey = this.#held.get(lease);
    if (redisKey === undefined) return;
    this.#held.delete(lease);
    if (this.#held.size === 0) this.#stopRenewing();
    await this.#client.zrem(redisKey, lease);
  }

  #renew(): void {
    const byKey = new Map<string, string[]>();
    for (const [lease, redisKey] of this.#held) byKey.set(redisKey, [...(byKey.get(redisKey) ?? []), lease]);
    // A failed renewal is not reported: the next one tries again, and a lease that runs out meanwhile
    // only frees a place early.
    for (const [redisKey, leases] of byKey) this.#run(scripts.renew, [redisKey], [String(this.#leaseMs), ...leases]).catch(() => undefined);
  }

  #stopRenewing(): void {
    clearInterval(this.#renewing);
    this.#renewing = undefined;
  }

  /** EVALSHA, and EVAL when Redis lost its script cache (a restart, a failover): that caches it again. */
  async #run(script: { text: string; sha: string }, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    try {
      return await this.#client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return await this.#client.eval(script.text, keys.length, ...keys, ...args);
    }
  }

  /** Closes the client the store made from `url`; a client you gave it stays yours. */
  close(): Promise<void> {
    this.#stopRenewing();
    this.#closed ??= this.#owned ? this.#client.quit().then(() => undefined, () => this.#client.disconnect()) : Promise.resolve();
    return this.#closed;
  }
}

/**
 * The Redis store (Node only): one limit shared by every gateway instance.
 * @example rateLimit({ limits, store: redisStore({ client: new Redis(process.env.REDIS_URL, { enableOfflineQueue: false }) }) })
 */
export const redisStore = (options: RedisStoreOptions): RedisStore => new RedisStore(options);
