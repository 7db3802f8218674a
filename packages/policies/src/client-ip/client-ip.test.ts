import { describe, expect, it } from '@jest/globals';
import { backends, policyRequest } from '../test-utils/index.ts';
import { byClientIp, consistentHash } from './index.ts';

describe('byClientIp', () => {
  const list = backends(3);

  it('uses the client address as the key, IPv4 or IPv6 as given', () => {
    expect(byClientIp().route(policyRequest({ clientIp: '203.0.113.7' }), list)).toEqual({ key: '203.0.113.7', candidates: list });
    expect(byClientIp().route(policyRequest({ clientIp: '::ffff:10.0.0.1' }), list).key).toBe('::ffff:10.0.0.1');
  });

  it('gives no key without an address', () => {
    expect(byClientIp().route(policyRequest({ clientIp: undefined }), list).key).toBeUndefined();
    expect(byClientIp().route(policyRequest({ clientIp: '' }), list).key).toBeUndefined();
  });

  it('ignores headers such as X-Forwarded-For (the gateway decides what the client address is)', () => {
    expect(byClientIp().route(policyRequest({ clientIp: '10.0.0.1', headers: { 'x-forwarded-for': '1.2.3.4' } }), list).key).toBe('10.0.0.1');
  });
});

describe('consistentHash preset', () => {
  it('keeps one client on one backend', () => {
    const list = backends(5);
    const instance = consistentHash().create(list);
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const clientIp = `198.51.100.${i}`;
      const first = instance.pick(policyRequest({ clientIp }))!;
      expect(instance.pick(policyRequest({ clientIp }))).toBe(first);
      seen.add(first.url);
    }
    expect(seen.size).toBe(5);
    expect(consistentHash().name).toBe('consistent-hash');
  });
});
