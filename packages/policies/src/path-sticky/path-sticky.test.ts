import { describe, expect, it } from '@jest/globals';
import { backends, policyRequest } from '../test-utils/index.ts';
import { byPathParam, pathSticky } from './index.ts';

describe('byPathParam', () => {
  const list = backends(3);

  it('uses the decoded path parameter as the key', () => {
    expect(byPathParam('cartId').route(policyRequest({ params: { cartId: 'c/42 é' } }), list)).toEqual({ key: 'c/42 é', candidates: list });
  });

  it('gives no key when the route lacks the parameter or its value is empty', () => {
    expect(byPathParam('cartId').route(policyRequest({ params: {} }), list).key).toBeUndefined();
    expect(byPathParam('cartId').route(policyRequest({ params: { other: 'x' } }), list).key).toBeUndefined();
    expect(byPathParam('cartId').route(policyRequest({ params: { cartId: '' } }), list).key).toBeUndefined();
  });

  it('does not read inherited properties as parameters', () => {
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      expect(byPathParam(name).route(policyRequest({ params: {} }), list).key).toBeUndefined();
    }
  });

  it('is named after the parameter', () => {
    expect(byPathParam('cartId').name).toBe('path:cartId');
    expect(pathSticky('cartId').name).toBe('path-sticky:cartId');
  });
});

describe('pathSticky', () => {
  it('sends one parameter value to one backend and spreads many over all of them', () => {
    const list = backends(3);
    const instance = pathSticky('id').create(list);
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const first = instance.pick(policyRequest({ params: { id: String(i) } }))!;
      expect(instance.pick(policyRequest({ params: { id: String(i) } }))).toBe(first);
      seen.add(first.url);
    }
    expect(seen.size).toBe(3);
  });
});
