import type { Policy } from '@apigate/core';
import { consistentHashBalancer } from '../consistent-hash/consistent-hash.ts';
import { policy } from '../policy.ts';
import type { Strategy } from '../types.ts';

/** The client's address (as the gateway's socket sees it) is the affinity key, like NGINX ip_hash. */
export const byClientIp = (): Strategy => ({
  name: 'client-ip',
  route: (request, backends) => ({ key: request.clientIp || undefined, candidates: backends }),
});

/** Consistent hashing on the client's address: one client, one backend. */
export const consistentHash = (): Policy => policy({ name: 'consistent-hash', strategy: byClientIp(), balancer: consistentHashBalancer() });
