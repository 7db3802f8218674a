import { describe, expect, it } from '@jest/globals';
import { backend, pickMany, policyRequest, seeded } from '../test-utils/index.ts';
import { leastRequest, leastRequestBalancer } from './index.ts';

const done = { ok: true, status: 200, latencyMs: 1 } as const;

describe('leastRequestBalancer', () => {
  it.each([
    [[1, 1]],
    [[90, 10]],
    [[5, 3, 2]],
    [[1, 1, 1, 1, 6]],
  ])('gives idle backends with weights %j their share of 10 000 picks within ± 2 points', (weights) => {
    const list = weights.map((weight, i) => backend(`w${i}`, weight));
    const total = weights.reduce((sum, w) => sum + w, 0);
    const counts = pickMany(leastRequestBalancer({ random: seeded(42) }).create(list), list, 10_000);
    list.forEach((b, i) => expect(Math.abs((counts[b.url] ?? 0) / 10_000 - weights[i]! / total)).toBeLessThan(0.02));
  });

  it('keeps a 90/10 canary within ± 2 points also when every request completes before the next', () => {
    const list = [backend('stable', 90), backend('canary', 10)];
    const balancer = leastRequestBalancer({ random: seeded(7) }).create(list);
    let canary = 0;
    for (let i = 0; i < 10_000; i++) {
      const picked = balancer.pick(list, undefined)!;
      balancer.start!(picked);
      balancer.end!(picked, done);
      if (picked.url === 'http://canary') canary++;
    }
    expect(Math.abs(canary / 10_000 - 0.1)).toBeLessThan(0.02);
  });

  it('prefers the backend with fewer requests in flight', () => {
    const [a, b] = [backend('a'), backend('b')];
    const balancer = leastRequestBalancer({ random: seeded(1) }).create([a, b]);
    balancer.start!(a);
    balancer.start!(a);
    balancer.start!(b);
    // With two candidates both are always drawn: the less loaded one wins every time.
    for (let i = 0; i < 100; i++) expect(balancer.pick([a, b], undefined)).toBe(b);
    balancer.end!(a, done);
    balancer.end!(a, done);
    for (let i = 0; i < 100; i++) expect(balancer.pick([a, b], undefined)).toBe(a);
  });

  it('measures load relative to weight: 3 in flight on weight 3 is lighter than 2 on weight 1', () => {
    const [heavy, light] = [backend('heavy', 3), backend('light')];
    const balancer = leastRequestBalancer({ random: seeded(3) }).create([heavy, light]);
    for (let i = 0; i < 3; i++) balancer.start!(heavy);
    for (let i = 0; i < 2; i++) balancer.start!(light);
    for (let i = 0; i < 50; i++) expect(balancer.pick([heavy, light], undefined)).toBe(heavy);
  });

  it('balances in-flight requests evenly when requests pile up and never end', () => {
    const list = [backend('a'), backend('b'), backend('c'), backend('d')];
    const balancer = leastRequestBalancer({ random: seeded(11) }).create(list);
    const counts = new Map<string, number>();
    for (let i = 0; i < 4_000; i++) {
      const picked = balancer.pick(list, undefined)!;
      balancer.start!(picked);
      counts.set(picked.url, (counts.get(picked.url) ?? 0) + 1);
    }
    // Power of two choices keeps the spread of in-flight counts small.
    const values = [...counts.values()];
    expect(Math.max(...values) - Math.min(...values)).toBeLessThanOrEqual(4);
  });

  it('shares ties fairly: equally loaded backends split 10 000 picks within ± 2 points', () => {
    const list = [backend('a'), backend('b'), backend('c')];
    const balancer = leastRequestBalancer({ random: seeded(5) }).create(list);
    for (const b of list) balancer.start!(b);
    const counts = pickMany(balancer, list, 10_000);
    for (const b of list) expect(Math.abs(counts[b.url]! / 10_000 - 1 / 3)).toBeLessThan(0.02);
  });

  it('never counts below zero in flight, even on an unmatched end', () => {
    const [a, b] = [backend('a'), backend('b')];
    const balancer = leastRequestBalancer({ random: seeded(2) }).create([a, b]);
    balancer.end!(a, done);
    balancer.end!(a, done);
    balancer.start!(a);
    balancer.start!(b);
    balancer.start!(b);
    for (let i = 0; i < 20; i++) expect(balancer.pick([a, b], undefined)).toBe(a);
  });

  it('picks the only candidate and none of none', () => {
    const a = backend('a');
    const balancer = leastRequestBalancer().create([a]);
    expect(balancer.pick([a], undefined)).toBe(a);
    expect(balancer.pick([], undefined)).toBeUndefined();
  });
});

describe('leastRequest preset', () => {
  it('balances over every backend and passes start and end through', () => {
    const [a, b] = [backend('a'), backend('b')];
    const instance = leastRequest({ random: seeded(9) }).create([a, b]);
    instance.start!(a);
    expect(instance.pick(policyRequest())).toBe(b);
    instance.end!(a, done);
    instance.start!(b);
    expect(instance.pick(policyRequest())).toBe(a);
    expect(leastRequest().name).toBe('least-request');
  });
});
