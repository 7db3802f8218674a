import type { Policy, PolicyInstance } from '@apigate/core';
import { roundRobinBalancer } from './round-robin/round-robin.ts';
import { noKey } from './no-key/index.ts';
import type { BalancerFactory, Strategy } from './types.ts';

export interface PolicyOptions {
  /** Which backends may take a request and its affinity key; no key and all backends by default. */
  strategy?: Strategy;
  /** Which candidate gets it; round robin by default. */
  balancer?: BalancerFactory;
  /** A name for logs; `strategy+balancer` by default. */
  name?: string;
}

/**
 * Combines a strategy and a balancer into a gateway policy; no candidate means 503
 * `no_backend_available`.
 * @example createGateway({ policies: { canary: policy({ strategy: byHeader('x-user'), balancer: leastRequestBalancer() }) } })
 */
export const policy = ({ strategy = noKey(), balancer = roundRobinBalancer(), name = `${strategy.name}+${balancer.name}` }: PolicyOptions = {}): Policy => ({
  name,
  create(backends) {
    const instance = balancer.create(backends);
    const result: PolicyInstance = {
      pick(request) {
        const { key, candidates: routed } = strategy.route(request, backends);
        // A retry asking for another backend: the tried ones are out, the key still decides.
        const exclude = request.exclude;
        const candidates = exclude === undefined ? routed : routed.filter((backend) => !exclude.has(backend));
        return candidates.length === 0 ? undefined : instance.pick(candidates, key);
      },
    };
    if (instance.start) result.start = (backend) => instance.start!(backend);
    if (instance.end) result.end = (backend, outcome) => instance.end!(backend, outcome);
    return result;
  },
});
