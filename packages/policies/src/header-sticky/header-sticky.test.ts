import { describe, expect, it } from '@jest/globals';
import { backends, policyRequest } from '../test-utils/index.ts';
import { byHeader, headerSticky } from './index.ts';

describe('byHeader', () => {
  const list = backends(3);

  it('uses the header value as the key, whatever the case of the configured name', () => {
    expect(byHeader('X-User').route(policyRequest({ headers: { 'x-user': 'alice' } }), list)).toEqual({ key: 'alice', candidates: list });
    expect(byHeader('x-user').route(policyRequest({ headers: { 'X-USER': 'Bob' } }), list).key).toBe('Bob');
  });

  it('keeps the value as sent: case, spaces inside and a list of values are part of the key', () => {
    expect(byHeader('x-user').route(policyRequest({ headers: { 'x-user': 'Alice Smith' } }), list).key).toBe('Alice Smith');
    expect(byHeader('x-user').route(policyRequest({ headers: { 'x-user': 'a, b' } }), list).key).toBe('a, b');
  });

  it('gives no key for an absent or empty header', () => {
    expect(byHeader('x-user').route(policyRequest(), list).key).toBeUndefined();
    expect(byHeader('x-user').route(policyRequest({ headers: { 'x-user': '' } }), list).key).toBeUndefined();
    expect(byHeader('x-user').route(policyRequest({ headers: { 'x-other': 'alice' } }), list).key).toBeUndefined();
  });

  it('is named after the lower-cased header', () => {
    expect(byHeader('X-Tenant').name).toBe('header:x-tenant');
    expect(headerSticky('X-Tenant').name).toBe('header-sticky:x-tenant');
  });
});

describe('headerSticky', () => {
  it('sends one header value to one backend and spreads many values over all of them', () => {
    const list = backends(4);
    const instance = headerSticky('x-user').create(list);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const request = policyRequest({ headers: { 'x-user': `user-${i}` } });
      const first = instance.pick(request)!;
      for (let j = 0; j < 3; j++) expect(instance.pick(request)).toBe(first);
      seen.add(first.url);
    }
    expect(seen.size).toBe(4);
  });

  it('round-robins requests without the header', () => {
    const list = backends(3);
    const instance = headerSticky('x-user').create(list);
    expect(Array.from({ length: 4 }, () => instance.pick(policyRequest())?.url)).toEqual(['http://b0', 'http://b1', 'http://b2', 'http://b0']);
  });
});
