import type { Policy } from '@apigate/core';
import { consistentHashBalancer } from '../consistent-hash/consistent-hash.ts';
import { policy } from '../policy.ts';
import type { Strategy } from '../types.ts';

/** A path parameter's decoded value is the affinity key; a route without it gives none. */
export const byPathParam = (param: string): Strategy => ({
  name: `path:${param}`,
  route: (request, backends) => ({ key: Object.hasOwn(request.params, param) ? request.params[param] || undefined : undefined, candidates: backends }),
});

/**
 * The same path parameter value always reaches the same backend (consistent hashing).
 * @example get('/carts/{cartId}', { policy: 'byCart' }) with policies: { byCart: pathSticky('cartId') }
 */
export const pathSticky = (param: string): Policy => policy({ name: `path-sticky:${param}`, strategy: byPathParam(param), balancer: consistentHashBalancer() });
