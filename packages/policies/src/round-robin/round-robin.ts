import { smoothRoundRobin } from '@apigate/core';
import type { BalancerFactory } from '../types.ts';

/** Smooth weighted round robin over the candidates (ignores the key). */
export const roundRobinBalancer = (): BalancerFactory => ({
  name: 'round-robin',
  create() {
    const next = smoothRoundRobin();
    return { pick: (candidates) => next(candidates) };
  },
});
