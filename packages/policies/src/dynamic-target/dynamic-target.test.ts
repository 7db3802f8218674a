import { describe, expect, it } from '@jest/globals';
import type { Backend } from '@apigate/core';
import { backend, policyRequest } from '../test-utils/index.ts';
import { byTarget, dynamicTarget } from './index.ts';

const a = backend('a:8080');
const b = backend('b:8080');
const based: Backend = { url: 'http://c:8080/v1', origin: 'http://c:8080', basePath: '/v1', weight: 1 };
const list = [a, b, based];

const picks = (instance: ReturnType<ReturnType<typeof dynamicTarget>['create']>, headers: Record<string, string>, count = 4): (string | undefined)[] =>
  Array.from({ length: count }, () => instance.pick(policyRequest({ headers }))?.url);

describe('dynamicTarget', () => {
  it('sends each header value to the backend its mapping names, and a list round robin', () => {
    const instance = dynamicTarget({ header: 'X-Tenant', targets: { acme: 'http://a:8080', both: ['http://a:8080', 'http://b:8080/'] } }).create(list);
    expect(picks(instance, { 'x-tenant': 'acme' })).toEqual(['http://a:8080', 'http://a:8080', 'http://a:8080', 'http://a:8080']);
    expect(picks(instance, { 'x-tenant': 'both' })).toEqual(['http://a:8080', 'http://b:8080', 'http://a:8080', 'http://b:8080']);
  });

  it('balances over every backend without the header or for a value it does not map, unless the fallback is none', () => {
    const all = dynamicTarget({ header: 'x-tenant', targets: { acme: 'http://a:8080' } }).create(list);
    expect(picks(all, {}, 3)).toEqual(['http://a:8080', 'http://b:8080', 'http://c:8080/v1']);
    expect(picks(all, { 'x-tenant': 'other' }, 3)).toEqual(['http://a:8080', 'http://b:8080', 'http://c:8080/v1']);
    const none = dynamicTarget({ header: 'x-tenant', targets: { acme: 'http://a:8080' }, fallback: 'none' }).create(list);
    expect(picks(none, {}, 1)).toEqual([undefined]);
    expect(picks(none, { 'x-tenant': 'other' }, 1)).toEqual([undefined]);
  });

  it('gives no backend (503) for a target that is no configured backend, whatever the fallback: the client never names a URL', () => {
    const instance = dynamicTarget({ select: (request) => request.headers.get('x-target') }).create(list);
    for (const target of ['http://evil.example', 'http://a:8081', 'https://a:8080', 'not a url', 'http://c:8080/v2', '//a:8080']) {
      expect(picks(instance, { 'x-target': target }, 1)).toEqual([undefined]);
    }
  });

  it('takes a backend by its URL as configured or by its origin, in any case, with or without a trailing slash', () => {
    const instance = dynamicTarget({ select: (request) => request.headers.get('x-target') }).create(list);
    for (const target of ['http://c:8080/v1', 'HTTP://C:8080/v1/', 'http://c:8080']) expect(picks(instance, { 'x-target': target }, 1)).toEqual(['http://c:8080/v1']);
  });

  it('routes by the Host as sent, then without its port, case-insensitively', () => {
    const instance = dynamicTarget({ host: true, targets: { 'Api.Example.com': 'http://b:8080', 'admin.example.com:8443': 'http://a:8080' }, fallback: 'none' }).create(list);
    expect(picks(instance, { host: 'api.example.com:9000' }, 1)).toEqual(['http://b:8080']);
    expect(picks(instance, { host: 'ADMIN.example.com:8443' }, 1)).toEqual(['http://a:8080']);
    expect(picks(instance, { host: 'admin.example.com' }, 1)).toEqual([undefined]);
    expect(picks(instance, {}, 1)).toEqual([undefined]);
  });

  it('does not read inherited keys of the mapping as targets', () => {
    const instance = dynamicTarget({ header: 'x-tenant', targets: { acme: 'http://a:8080' }, fallback: 'none' }).create(list);
    for (const value of ['constructor', '__proto__', 'toString']) expect(picks(instance, { 'x-tenant': value }, 1)).toEqual([undefined]);
  });

  it('refuses options that name no way to choose', () => {
    expect(() => dynamicTarget({ targets: { a: 'http://a:8080' } })).toThrow(TypeError);
  });
});

describe('byTarget', () => {
  it('gives no affinity key, only candidates, so any balancer can follow it', () => {
    expect(byTarget(() => ['http://a:8080', 'http://a:8080/']).route(policyRequest(), list)).toEqual({ key: undefined, candidates: [a] });
    expect(byTarget(() => []).route(policyRequest(), list).candidates).toEqual(list);
  });
});
