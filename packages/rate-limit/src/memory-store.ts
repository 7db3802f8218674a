import { evaluate, type Evaluation } from './internal/algorithms.ts';
import type { LimitCheck, Outcome, RateLimitStore } from './store.ts';

export interface MemoryStoreOptions {
  /**
   * The most keys (subject × limit) kept; past it a key not met recently is dropped (the oldest one
   * not met since it last came up for eviction: CLOCK, an approximation of least recently used), so
   * a client spraying distinct keys cannot grow the process. Default 10 000.
   */
  maxKeys?: number;
  /** The clock, in milliseconds; inject one for tests. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  state: readonly number[];
  expires: number;
  /** Met since the key last came up for eviction: it gets a second chance (CLOCK). */
  used: boolean;
}

/** A RateLimitStore in this process's memory: exact, bounded, and per instance (not shared). */
export class MemoryStore implements RateLimitStore {
  // Insertion order is the eviction order. A key met again is only marked used, not moved: moving
  // it (a delete and a set on every request) was most of the store's cost on a hot key. Eviction
  // moves a used key to the end instead, once, and drops the first one not used since (CLOCK, the
  // usual approximation of least recently used).
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
    // The common request has one limit: no arrays beyond the answer.
    if (checks.length === 1) {
      const check = checks[0]!;
      const key = `${check.subject}\u0000${check.id}`;
      const entry = this.#read(key, now);
      const evaluation = evaluate(check.limit, entry?.state, now, check.cost);
      if (evaluation.outcome.allowed) this.#write(key, entry, evaluation.next, now + evaluation.ttlMs);
      return [evaluation.outcome];
    }
    const keys: string[] = [];
    const entries: (Entry | undefined)[] = [];
    const evaluations: Evaluation[] = [];
    let allowed = true;
    for (const check of checks) {
      const key = `${check.subject}\u0000${check.id}`;
      const entry = this.#read(key, now);
      const evaluation = evaluate(check.limit, entry?.state, now, check.cost);
      keys.push(key);
      entries.push(entry);
      evaluations.push(evaluation);
      if (!evaluation.outcome.allowed) allowed = false;
    }
    if (!allowed) return evaluations.map((evaluation) => evaluation.held);
    for (let i = 0; i < checks.length; i++) this.#write(keys[i]!, entries[i], evaluations[i]!.next, now + evaluations[i]!.ttlMs);
    return evaluations.map((evaluation) => evaluation.outcome);
  }

  /** The key's live entry, marked used; an expired one is dropped. */
  #read(key: string, now: number): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    // Refused or not, a key met again is in use.
    entry.used = true;
    return entry;
  }

  #write(key: string, entry: Entry | undefined, state: readonly number[], expires: number): void {
    if (entry !== undefined) {
      entry.state = state;
      entry.expires = expires;
      return;
    }
    this.#entries.set(key, { state, expires, used: false });
    if (this.#entries.size > this.#maxKeys) this.#evict();
  }

  /** Drops the oldest key not used since it last came up; the used ones it passes go to the end, unmarked. */
  #evict(): void {
    // Bounded: each pass unmarks the key it moves, so within one lap of the map a key is dropped.
    for (const [key, entry] of this.#entries) {
      this.#entries.delete(key);
      if (!entry.used) return;
      entry.used = false;
      this.#entries.set(key, entry);
    }
  }
}

/**
 * The in-memory store: exact on its clock, bounded to `maxKeys`, one per gateway instance. Share
 * one store between limiters freely: keys carry each limiter's name.
 * @example rateLimit({ limits: [fixedWindow({ limit: 100, window: '1m' })], store: memoryStore({ maxKeys: 50_000 }) })
 */
export const memoryStore = (options: MemoryStoreOptions = {}): MemoryStore => new MemoryStore(options);
