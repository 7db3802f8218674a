import { describe, expect, it } from '@jest/globals';
import { backend, pickMany, policyRequest } from '../test-utils/index.ts';
import { roundRobin, roundRobinBalancer } from './index.ts';

describe('roundRobinBalancer', () => {
  it('rotates in exact order over equal weights', () => {
    const backends = [backend('a'), backend('b'), backend('c')];
    const balancer = roundRobinBalancer().create(backends);
    const picked = Array.from({ length: 7 }, () => balancer.pick(backends, undefined)?.url);
    expect(picked).toEqual(['http://a', 'http://b', 'http://c', 'http://a', 'http://b', 'http://c', 'http://a']);
  });

  it('spreads weights 5/1/1 as a a b a c a a', () => {
    const backends = [backend('a', 5), backend('b'), backend('c')];
    const balancer = roundRobinBalancer().create(backends);
    const picked = Array.from({ length: 7 }, () => balancer.pick(backends, undefined)?.url.slice(7));
    expect(picked.join(' ')).toBe('a a b a c a a');
  });

  it('gives a 90/10 canary exactly 9 000 and 1 000 of 10 000 picks, never two canary picks in a row', () => {
    const backends = [backend('stable', 90), backend('canary', 10)];
    const balancer = roundRobinBalancer().create(backends);
    const picked = Array.from({ length: 10_000 }, () => balancer.pick(backends, undefined)!.url);
    expect(picked.filter((url) => url === 'http://stable')).toHaveLength(9_000);
    expect(picked.filter((url) => url === 'http://canary')).toHaveLength(1_000);
    expect(picked.some((url, i) => url === 'http://canary' && picked[i + 1] === 'http://canary')).toBe(false);
  });

  it('gives every backend exactly its share of 10 000 picks over uneven weights 5/3/2', () => {
    const backends = [backend('a', 5), backend('b', 3), backend('c', 2)];
    expect(pickMany(roundRobinBalancer().create(backends), backends, 10_000)).toEqual({ 'http://a': 5_000, 'http://b': 3_000, 'http://c': 2_000 });
  });

  it('ignores the key', () => {
    const backends = [backend('a'), backend('b')];
    const balancer = roundRobinBalancer().create(backends);
    expect([balancer.pick(backends, 'k'), balancer.pick(backends, 'k')].map((b) => b?.url)).toEqual(['http://a', 'http://b']);
  });

  it('rotates over whatever candidates each pick is given, and picks none of none', () => {
    const [a, b, c] = [backend('a'), backend('b'), backend('c')];
    const balancer = roundRobinBalancer().create([a, b, c]);
    expect(balancer.pick([a, b], undefined)).toBe(a);
    expect(balancer.pick([a, b], undefined)).toBe(b);
    expect(balancer.pick([c], undefined)).toBe(c);
    expect(balancer.pick([], undefined)).toBeUndefined();
  });

  it('keeps separate rotations for separate services (one balancer per create)', () => {
    const backends = [backend('a'), backend('b')];
    const factory = roundRobinBalancer();
    const first = factory.create(backends);
    const second = factory.create(backends);
    expect(first.pick(backends, undefined)?.url).toBe('http://a');
    expect(second.pick(backends, undefined)?.url).toBe('http://a');
  });
});

describe('roundRobin preset', () => {
  it('rotates over every backend of the service', () => {
    const backends = [backend('a'), backend('b'), backend('c')];
    const instance = roundRobin().create(backends);
    expect(Array.from({ length: 4 }, () => instance.pick(policyRequest())?.url)).toEqual(['http://a', 'http://b', 'http://c', 'http://a']);
    expect(roundRobin().name).toBe('round-robin');
  });
});
