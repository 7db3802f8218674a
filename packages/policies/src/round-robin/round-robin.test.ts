import { describe, expect, it } from '@jest/globals';
import type { Backend } from '@apigate/core';
import { roundRobinBalancer } from './round-robin.ts';

const backend = (name: string, weight = 1): Backend => ({ url: `http://${name}`, origin: `http://${name}`, basePath: '', weight });

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
});
