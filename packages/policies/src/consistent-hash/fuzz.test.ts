import { describe, expect, it } from '@jest/globals';
import type { Backend, Policy } from '@apigate/core';
import { byClientIp, consistentHash } from '../client-ip/index.ts';
import { byCookie, cookieSticky } from '../cookie-sticky/index.ts';
import { byHeader, headerSticky } from '../header-sticky/index.ts';
import { byPathParam, pathSticky } from '../path-sticky/index.ts';
import { backend, backends, policyRequest, seeded, type RequestParts } from '../test-utils/index.ts';
import type { Strategy } from '../types.ts';
import { consistentHashBalancer } from './index.ts';

const random = seeded(2024);
/** A string of `length` UTF-16 code units drawn from the whole range: lone surrogates, controls, NUL and all. */
const randomString = (length: number): string => String.fromCharCode(...Array.from({ length }, () => Math.floor(random() * 0x10000)));

const oddKeys: string[] = [
  '',
  ' ',
  '\u0000',
  '\u0000\u0000\u0000\u0000',
  '\r\n\t\u0007\u001b[31m',
  '\u007f\u0085\u2028\u2029',
  'x'.repeat(100 * 1024),
  '🎉'.repeat(25 * 1024),
  'é',
  'e\u0301',
  '中文键',
  'مفتاح',
  '👩‍👩‍👧‍👦',
  '\ud800',
  '\udfff',
  '\udc00\ud800',
  'a\ud800b',
  '\ufeff',
  '\uffff',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  '0',
  '-0',
  'NaN',
  ...Array.from({ length: 500 }, (_, i) => randomString(i % 97)),
];

const list: Backend[] = [backend('a'), backend('b', 3), backend('c', 0.5), backend('d'), { ...backend('e'), url: 'https://e.example/base path/é' }];

describe('consistent hashing with odd keys', () => {
  it('never throws, always picks one of the backends and picks the same one again, also in a fresh balancer', () => {
    const first = consistentHashBalancer().create(list);
    const second = consistentHashBalancer().create(list);
    for (const key of oddKeys) {
      const picked = first.pick(list, key);
      expect(list).toContain(picked);
      expect(first.pick(list, key)).toBe(picked);
      expect(second.pick(list, key)).toBe(picked);
    }
  });

  it('hashes text as UTF-8, so every lone surrogate counts as U+FFFD', () => {
    const balancer = consistentHashBalancer().create(backends(16));
    const list16 = backends(16);
    expect(balancer.pick(list16, 'a\ud800b')?.url).toBe(balancer.pick(list16, 'a\ufffdb')?.url);
    expect(balancer.pick(list16, '\udfff')?.url).toBe(balancer.pick(list16, '\ufffd')?.url);
  });

  it('tells apart keys that differ only in normalization, NUL or length', () => {
    // Not a guarantee for any two keys, but these must not collide systematically.
    const list64 = backends(64);
    const balancer = consistentHashBalancer().create(list64);
    const picks = ['é', 'e\u0301', '\u0000', '\u0000\u0000', 'x'.repeat(100 * 1024), 'x'.repeat(100 * 1024 - 1)].map((key) => balancer.pick(list64, key)?.url);
    expect(new Set(picks).size).toBeGreaterThanOrEqual(4);
  });
});

const strategies: [string, Strategy, Policy, (key: string) => RequestParts][] = [
  ['headerSticky', byHeader('x-user'), headerSticky('x-user'), (key) => ({ headers: { 'x-user': key } })],
  ['pathSticky', byPathParam('id'), pathSticky('id'), (key) => ({ params: { id: key } })],
  ['cookieSticky', byCookie('sid'), cookieSticky('sid'), (key) => ({ headers: { cookie: `a=1; sid=${key}; b=2` } })],
  ['cookieSticky, quoted', byCookie('sid'), cookieSticky('sid'), (key) => ({ headers: { cookie: `sid="${key}"` } })],
  ['consistentHash (client IP)', byClientIp(), consistentHash(), (key) => ({ clientIp: key })],
];

describe.each(strategies)('%s with odd values', (_name, strategy, preset, partsOf) => {
  it('never throws, always picks a backend and is deterministic across instances', () => {
    const first = preset.create(list);
    const second = preset.create(list);
    let keyed = 0;
    for (const value of oddKeys) {
      const request = policyRequest(partsOf(value));
      const { key, candidates } = strategy.route(request, list);
      expect(candidates).toBe(list);
      const picked = first.pick(request);
      expect(list).toContain(picked);
      // An empty value gives no key (round robin): only keyed picks must repeat.
      if (key === undefined) continue;
      keyed++;
      expect(key).not.toBe('');
      expect(second.pick(request)).toBe(picked);
      expect(first.pick(request)).toBe(picked);
    }
    expect(keyed).toBeGreaterThan(oddKeys.length * 0.9);
  });
});
