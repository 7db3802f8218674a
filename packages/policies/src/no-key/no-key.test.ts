import { describe, expect, it } from '@jest/globals';
import { backends, policyRequest } from '../test-utils/index.ts';
import { noKey } from './index.ts';

describe('noKey', () => {
  it('makes every backend a candidate and gives no key, whatever the request carries', () => {
    const list = backends(3);
    const routing = noKey().route(policyRequest({ headers: { 'x-user': 'a', cookie: 'session=1' }, params: { id: '1' }, clientIp: '10.0.0.1' }), list);
    expect(routing.key).toBeUndefined();
    expect(routing.candidates).toBe(list);
  });
});
