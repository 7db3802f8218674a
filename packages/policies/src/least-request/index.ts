import type { Backend, Policy } from '@apigate/core';
import { twoChoices } from '../internal/weighted.ts';
import { noKey } from '../no-key/index.ts';
import { policy } from '../policy.ts';
import type { BalancerFactory, Random } from '../types.ts';

export interface LeastRequestOptions {
  /** Uniform random numbers in [0, 1); Math.random by default. */
  random?: Random;
}

/**
 * Fewest requests in flight, relative to weight, by the power of two choices: two candidates are
 * drawn by weight and the less loaded one wins; ties go to the first drawn, so idle backends share
 * by weight.
 */
export const leastRequestBalancer = ({ random = Math.random }: LeastRequestOptions = {}): BalancerFactory => ({
  name: 'least-request',
  create() {
    const inFlight = new Map<Backend, number>();
    const cost = (backend: Backend): number => (inFlight.get(backend) ?? 0) / backend.weight;
    return {
      pick: (candidates) => twoChoices(candidates, random, cost),
      start(backend) {
        inFlight.set(backend, (inFlight.get(backend) ?? 0) + 1);
      },
      end(backend) {
        inFlight.set(backend, Math.max(0, (inFlight.get(backend) ?? 1) - 1));
      },
    };
  },
});

/** Least request over every backend. */
export const leastRequest = (options: LeastRequestOptions = {}): Policy => policy({ name: 'least-request', strategy: noKey(), balancer: leastRequestBalancer(options) });
