import type { Policy } from '@apigate/core';
import { noKey } from '../no-key/index.ts';
import { policy } from '../policy.ts';
import { roundRobinBalancer } from './round-robin.ts';

export { roundRobinBalancer };

/** Smooth weighted round robin over every backend: the gateway's default, as a preset. */
export const roundRobin = (): Policy => policy({ name: 'round-robin', strategy: noKey(), balancer: roundRobinBalancer() });
