import { createHash } from 'node:crypto';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import type { LimitCheck, Outcome, RateLimitStore } from '../store.ts';
import { decideScript } from './script.ts';

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
}

const codes = { 'token-bucket': 'tb', 'fixed-window': 'fw', 'sliding-window': 'sw' } as const;

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith('NOSCRIPT');

/**
 * A RateLimitStore in Redis, shared by every gateway instance that uses the same Redis: one
 * atomic Lua script per request (EVALSHA, loaded again after a Redis restart or SCRIPT FLUSH),
 * Redis's clock, keys `<prefix>{<limiter>:<key>}:<tier>:<limit>` whose hash tag keeps one
 * subject's limits in one Redis Cluster slot, and a PX expiry on every write.
 */
export class RedisStore implements RateLimitStore {
  readonly timeout: number;
  readonly #client: Redis | Cluster;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #sha = createHash('sha1').update(decideScript).digest('hex');
  #closed: Promise<void> | undefined;

  constructor({ client, url, prefix = 'apigate:rl:', timeout = 50 }: RedisStoreOptions) {
    if ((client === undefined) === (url === undefined)) throw new TypeError('@apigate/rate-limit: redisStore takes a client or a url, one of them');
    if (!Number.isFinite(timeout) || timeout <= 0) throw new TypeError(`@apigate/rate-limit: redisStore timeout must be a positive number of ms, got ${String(timeout)}`);
    const options: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 0 };
    this.#client = client ?? new Redis(url!, options);
    this.#owned = client === undefined;
    this.#prefix = prefix;
    this.timeout = timeout;
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
    let reply: unknown;
    try {
      reply = await this.#client.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (error) {
      // The script cache is empty after a restart or a failover: EVAL sends it, and caches it again.
      if (!isNoScript(error)) throw error;
      reply = await this.#client.eval(decideScript, keys.length, ...keys, ...args);
    }
    const numbers = reply as number[];
    return checks.map((_, i) => ({ allowed: numbers[i * 4] === 1, remaining: numbers[i * 4 + 1]!, resetMs: numbers[i * 4 + 2]!, retryAfterMs: numbers[i * 4 + 3]! }));
  }

  /** Closes the client the store made from `url`; a client you gave it stays yours. */
  close(): Promise<void> {
    this.#closed ??= this.#owned ? this.#client.quit().then(() => undefined, () => this.#client.disconnect()) : Promise.resolve();
    return this.#closed;
  }
}

/**
 * The Redis store (Node only): one limit shared by every gateway instance.
 * @example rateLimit({ limits, store: redisStore({ client: new Redis(process.env.REDIS_URL, { enableOfflineQueue: false }) }) })
 */
export const redisStore = (options: RedisStoreOptions): RedisStore => new RedisStore(options);
