import { evaluate } from './internal/algorithms.ts';
import type { LimitCheck, Outcome, RateLimitStore } from './store.ts';

export interface MemoryStoreOptions {
  /**
   * The most keys (subject × limit) kept; past it the least recently used key is dropped, so a
   * client spraying distinct keys cannot grow the process. Default 10 000.
   */
  maxKeys?: number;
  /** The clock, in milliseconds; inject one for tests. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  readonly state: readonly number[];
  readonly expires: number;
}

/** A RateLimitStore in this process's memory: exact, bounded, and per instance (not shared). */
export class MemoryStore implements RateLimitStore {
  readonly #entries = new Map<string, Entry>();
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor({ maxKeys = 10_000, now = Date.now }: MemoryStoreOptions = {}) {
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new TypeError(`@apigate/rate-limit: memoryStore maxKeys must be a positive whole number, got ${String(maxKeys)}`);
    this.#maxKeys = maxKeys;
    this.#now = now;
  }

  /** How many keys the store holds now (expired ones included until they are met or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  consume(checks: readonly LimitCheck[]): readonly Outcome[] {
    const now = this.#now();
    const evaluations = checks.map((check) => evaluate(check.limit, this.#read(`${check.subject}\u0000${check.id}`, now), now, check.cost));
    if (!evaluations.every((evaluation) => evaluation.outcome.allowed)) return evaluations.map((evaluation) => evaluation.held);
    checks.forEach((check, i) => this.#write(`${check.subject}\u0000${check.id}`, { state: evaluations[i]!.next, expires: now + evaluations[i]!.ttlMs }));
    return evaluations.map((evaluation) => evaluation.outcome);
  }

  #read(key: string, now: number): readonly number[] | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    // A key met again, refused or not, is in use: move it to the end of the eviction order.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.state;
  }

  #write(key: string, entry: Entry): void {
    // Re-inserting moves the key to the end: the Map's order is the order of last use.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#maxKeys) this.#entries.delete(this.#entries.keys().next().value!);
  }
}

/**
 * The in-memory store: exact on its clock, bounded to `maxKeys`, one per gateway instance. Share
 * one store between limiters freely: keys carry each limiter's name.
 * @example rateLimit({ limits: [fixedWindow({ limit: 100, window: '1m' })], store: memoryStore({ maxKeys: 50_000 }) })
 */
export const memoryStore = (options: MemoryStoreOptions = {}): MemoryStore => new MemoryStore(options);
