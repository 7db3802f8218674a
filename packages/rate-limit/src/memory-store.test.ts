import { describe, expect, it } from '@jest/globals';
import { fixedWindow, slidingWindow, tokenBucket, type Limit } from './limits.ts';
import { memoryStore } from './memory-store.ts';
import type { Outcome } from './store.ts';

/** A memory store on a virtual clock, and one request at a time through it. */
const clocked = (maxKeys?: number) => {
  let now = 0;
  const store = memoryStore({ now: () => now, ...(maxKeys === undefined ? {} : { maxKeys }) });
  return {
    store,
    at: (ms: number) => void (now = ms),
    hit: (limits: readonly Limit[], { cost = 1, subject = 's' } = {}): readonly Outcome[] =>
      store.consume(limits.map((limit) => ({ subject, id: limit.name, limit, cost }))),
    one: (limit: Limit, { cost = 1, subject = 's' } = {}): Outcome => store.consume([{ subject, id: limit.name, limit, cost }])[0]!,
  };
};

/** A small seeded PRNG (mulberry32): the same "random" traffic on every run. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

describe('token bucket (GCRA)', () => {
  it('lets a full burst through at once, then refuses with the exact wait for one token', () => {
    const c = clocked();
    const limit = tokenBucket({ rate: 10, per: '1s', burst: 20 });
    const burst = Array.from({ length: 20 }, () => c.one(limit));
    expect(burst.map((o) => o.remaining)).toEqual(Array.from({ length: 20 }, (_, i) => 19 - i));
    expect(burst.every((o) => o.allowed)).toBe(true);
    expect(c.one(limit)).toEqual({ allowed: false, remaining: 0, resetMs: 2_000, retryAfterMs: 100 });
    c.at(99);
    expect(c.one(limit).allowed).toBe(false);
    c.at(100);
    expect(c.one(limit)).toEqual({ allowed: true, remaining: 0, resetMs: 2_000, retryAfterMs: 0 });
    expect(c.one(limit)).toMatchObject({ allowed: false, retryAfterMs: 100 });
  });

  it('admits exactly burst + rate × time under a constant flood', () => {
    const c = clocked();
    const limit = tokenBucket({ rate: 10, per: '1s', burst: 20 });
    let admitted = 0;
    for (let t = 0; t <= 10_000; t++) {
      c.at(t);
      if (c.one(limit).allowed) admitted++;
    }
    expect(admitted).toBe(20 + 100);
  });

  it('keeps a fractional refill interval exact (3 per second: one token every 333⅓ ms)', () => {
    const c = clocked();
    const limit = tokenBucket({ rate: 3, per: 1_000 });
    for (let i = 0; i < 3; i++) expect(c.one(limit).allowed).toBe(true);
    const refused = c.one(limit);
    expect(refused).toMatchObject({ allowed: false, retryAfterMs: 334 });
    c.at(333);
    expect(c.one(limit).allowed).toBe(false);
    c.at(334);
    expect(c.one(limit).allowed).toBe(true);
    c.at(1_000);
    expect(c.one(limit)).toMatchObject({ allowed: true, remaining: 1 });
    c.at(5_000);
    expect(c.one(limit)).toMatchObject({ allowed: true, remaining: 2 });
  });

  it('spends the cost of a weighted request, and never admits a cost above the burst', () => {
    const c = clocked();
    const limit = tokenBucket({ rate: 10, burst: 20 });
    expect([1, 2, 3, 4].map(() => c.one(limit, { cost: 5 }).allowed)).toEqual([true, true, true, true]);
    expect(c.one(limit, { cost: 5 })).toMatchObject({ allowed: false, retryAfterMs: 500 });
    c.at(60_000);
    expect(c.one(limit, { cost: 21 })).toMatchObject({ allowed: false, remaining: 20 });
    expect(c.one(limit, { cost: 20 })).toMatchObject({ allowed: true, remaining: 0 });
  });
});

describe('fixed window', () => {
  it('counts per aligned window and resets at its end', () => {
    const c = clocked();
    const limit = fixedWindow({ limit: 3, window: '1s' });
    c.at(250);
    expect([c.one(limit), c.one(limit), c.one(limit)].map((o) => o.remaining)).toEqual([2, 1, 0]);
    expect(c.one(limit)).toEqual({ allowed: false, remaining: 0, resetMs: 750, retryAfterMs: 750 });
    c.at(999);
    expect(c.one(limit)).toMatchObject({ allowed: false, retryAfterMs: 1 });
    c.at(1_000);
    expect(c.one(limit)).toEqual({ allowed: true, remaining: 2, resetMs: 1_000, retryAfterMs: 0 });
  });

  it('lets twice the limit through across a window edge (why the sliding window exists)', () => {
    const c = clocked();
    const limit = fixedWindow({ limit: 3, window: '1s' });
    c.at(999);
    const late = [c.one(limit), c.one(limit), c.one(limit)];
    c.at(1_000);
    const early = [c.one(limit), c.one(limit), c.one(limit)];
    expect([...late, ...early].every((o) => o.allowed)).toBe(true);
  });
});

describe('sliding window (weighted two-window counter)', () => {
  const limit = slidingWindow({ limit: 10, window: 1_000 });

  it('weighs the previous window by its overlap, and refuses until the exact moment there is room', () => {
    const c = clocked();
    c.at(999);
    for (let i = 0; i < 10; i++) expect(c.one(limit).allowed).toBe(true);
    c.at(1_000);
    // The previous window's 10 still count fully at the start of the next one: 10 × (1 - 0/1000).
    const refused = c.one(limit);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 100 });
    c.at(1_099);
    expect(c.one(limit).allowed).toBe(false);
    c.at(1_100);
    expect(c.one(limit)).toMatchObject({ allowed: true, remaining: 0 });
    // Half-way, half of the previous window's requests are forgotten.
    c.at(1_500);
    expect(c.one(limit)).toMatchObject({ allowed: true, remaining: 3 });
  });

  it('waits into the next window when the current one is full', () => {
    const c = clocked();
    c.at(0);
    for (let i = 0; i < 10; i++) c.one(limit);
    // Full now; in the next window 10 × (1 - e/1000) + 1 <= 10 from e = 100: at 1100.
    expect(c.one(limit)).toMatchObject({ allowed: false, retryAfterMs: 1_100 });
    c.at(1_099);
    expect(c.one(limit).allowed).toBe(false);
    c.at(1_100);
    expect(c.one(limit).allowed).toBe(true);
  });

  it('reaches its documented worst case: L + ⌊L·f⌋ in one window length, f the elapsed part of the current window', () => {
    const c = clocked();
    // L at the very end of a window (the window before it empty), then as much as admitted at 90 %.
    c.at(999);
    for (let i = 0; i < 10; i++) c.one(limit);
    c.at(1_900);
    let late = 0;
    while (c.one(limit).allowed) late++;
    expect(late).toBe(9);
    // All 19 fall in the 1000 ms interval (900, 1900]: 1.9 × L, where a true sliding log admits L.
    expect(10 + late).toBe(19);
  });

  it('never admits more than L·(1 + f) in any interval of one window length, under random traffic', () => {
    const c = clocked();
    const next = random(7);
    const admitted: number[] = [];
    let t = 0;
    // Bursts between pauses of up to most of a window: the shapes the estimate gets wrong.
    for (let i = 0; i < 20_000; i++) {
      t += next() < 0.05 ? Math.floor(next() * 900) : Math.floor(next() * 3);
      c.at(t);
      if (c.one(limit).allowed) admitted.push(t);
    }
    let worst = 0;
    let first = 0;
    admitted.forEach((at, last) => {
      while (admitted[first]! <= at - 1_000) first++;
      const count = last - first + 1;
      const bound = 10 * (1 + (at % 1_000) / 1_000);
      expect(count).toBeLessThanOrEqual(bound);
      worst = Math.max(worst, count);
    });
    // The traffic was heavy enough to meet the limit: the bound is tested, not idle.
    expect(worst).toBeGreaterThan(10);
  });
});

describe('several limits of one request', () => {
  it('are all or nothing: a refusal by one spends none of the others', () => {
    const c = clocked();
    const burst = tokenBucket({ rate: 1, per: '1s', burst: 5, name: 'burst' });
    const daily = fixedWindow({ limit: 2, window: '1d', name: 'daily' });
    expect(c.hit([burst, daily]).map((o) => o.allowed)).toEqual([true, true]);
    expect(c.hit([burst, daily]).map((o) => o.allowed)).toEqual([true, true]);
    const refused = c.hit([burst, daily]);
    // The burst reports what it has, as nothing was spent: 3 tokens.
    expect(refused.map((o) => [o.allowed, o.remaining])).toEqual([
      [true, 3],
      [false, 0],
    ]);
    expect(c.one(burst)).toMatchObject({ allowed: true, remaining: 2 });
  });
});

describe('memoryStore bounds', () => {
  it('holds at most maxKeys keys while 100 000 distinct keys arrive, dropping the least recently used', () => {
    const c = clocked(1_000);
    const limit = fixedWindow({ limit: 1, window: '1h' });
    let largest = 0;
    c.one(limit, { subject: 'kept' });
    for (let i = 0; i < 100_000; i++) {
      c.one(limit, { subject: `spray-${i}` });
      if (i % 100 === 0) expect(c.one(limit, { subject: 'kept' }).allowed).toBe(false); // still remembered: recently met
      largest = Math.max(largest, c.store.size);
    }
    expect(largest).toBe(1_000);
    expect(c.store.size).toBe(1_000);
    // An early sprayer was evicted: it starts afresh.
    expect(c.one(limit, { subject: 'spray-0' }).allowed).toBe(true);
  });

  it('drops the oldest key not met since it was stored, and gives a key met since then a second chance', () => {
    const c = clocked(3);
    const limit = fixedWindow({ limit: 1, window: '1h' });
    for (const subject of ['a', 'b', 'c']) c.one(limit, { subject });
    // `a` is met again (refused: its hour is spent), `b` and `c` are not.
    expect(c.one(limit, { subject: 'a' }).allowed).toBe(false);
    c.one(limit, { subject: 'd' });
    expect(c.store.size).toBe(3);
    // `b` went, the oldest unmet one; `a` kept its count. (Meeting `b` again stores it afresh.)
    expect(c.one(limit, { subject: 'a' }).allowed).toBe(false);
    expect(c.one(limit, { subject: 'b' }).allowed).toBe(true);
    expect(c.store.size).toBe(3);
    // Storing `b` dropped `c`; now `d`, `a` (met) and `b` are held. A new key drops `d`, passing over `a`.
    c.one(limit, { subject: 'e' });
    expect([c.one(limit, { subject: 'd' }).allowed, c.one(limit, { subject: 'a' }).allowed]).toEqual([true, false]);
  });

  it('forgets a key once its state no longer matters', () => {
    const c = clocked();
    const limit = fixedWindow({ limit: 1, window: '1s' });
    c.one(limit);
    expect(c.store.size).toBe(1);
    c.at(1_000);
    expect(c.one(limit).allowed).toBe(true);
    expect(c.store.size).toBe(1);
  });

  it('refuses a maxKeys that is not a positive whole number', () => {
    expect(() => memoryStore({ maxKeys: 0 })).toThrow(/maxKeys/);
    expect(() => memoryStore({ maxKeys: 1.5 })).toThrow(/maxKeys/);
  });
});
