import type { Backend, PolicyRequest, UpstreamOutcome } from '@apigate/core';

/** What a strategy decides: an affinity key (or none) and the backends that may take the request. */
export interface Routing {
  readonly key: string | undefined;
  readonly candidates: readonly Backend[];
}

/** Looks at a request and says which backends may serve it and with what affinity key. */
export interface Strategy {
  readonly name: string;
  route(request: PolicyRequest, backends: readonly Backend[]): Routing;
}

/** Picks one of the candidates and hears when a request starts and how it ended. */
export interface Balancer {
  pick(candidates: readonly Backend[], key: string | undefined): Backend | undefined;
  start?(backend: Backend): void;
  end?(backend: Backend, outcome: UpstreamOutcome): void;
}

/** Makes one balancer per service (per backend list), so state is never shared between services. */
export interface BalancerFactory {
  readonly name: string;
  create(backends: readonly Backend[]): Balancer;
}

/** A source of uniform numbers in [0, 1); Math.random unless a test pins it. */
export type Random = () => number;
