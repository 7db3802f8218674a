import type { Policy } from '@apigate/core';
import { consistentHashBalancer } from '../consistent-hash/consistent-hash.ts';
import { policy } from '../policy.ts';
import type { Strategy } from '../types.ts';

/** A request header's value is the affinity key; an absent or empty header gives none. */
export const byHeader = (name: string): Strategy => {
  const header = name.toLowerCase();
  return {
    name: `header:${header}`,
    route: (request, backends) => ({ key: request.headers.get(header) || undefined, candidates: backends }),
  };
};

/**
 * The same header value always reaches the same backend (consistent hashing); requests without
 * it are balanced round robin.
 * @example createGateway({ policies: { byTenant: headerSticky('x-tenant') } })
 */
export const headerSticky = (name: string): Policy => policy({ name: `header-sticky:${name.toLowerCase()}`, strategy: byHeader(name), balancer: consistentHashBalancer() });
