import type { Backend, Policy } from '@apigate/core';
import { twoChoices } from '../internal/weighted.ts';
import { noKey } from '../no-key/index.ts';
import { policy } from '../policy.ts';
import type { BalancerFactory, Random } from '../types.ts';

export interface LeastTimeOptions {
  /**
   * A backend not heard from for this long gets the next request it is a candidate for, so that
   * a backend that was slow is measured again and can win traffic back. Default 500 ms.
   */
  probeMs?: number;
  /** How far one faster sample moves the estimate down (0..1). Default 0.5; slower samples count at once. */
  decay?: number;
  /** Uniform random numbers in [0, 1); Math.random by default. */
  random?: Random;
  /** Milliseconds clock; performance.now by default. */
  now?: () => number;
}

interface Stats {
  /** Latency estimate in ms: jumps up to a slower sample at once, comes down by `decay` per sample. */
  latency: number;
  inFlight: number;
  lastHeard: number;
  probing: boolean;
}

/**
 * Least time: a latency estimate (peak-sensitive moving average, failures counted as doubly slow)
 * times the requests in flight plus one, relative to weight, by the power of two choices. A slow
 * backend sheds load after its first slow answers; probes let it win traffic back once it is fast.
 */
export const leastTimeBalancer = ({ probeMs = 500, decay = 0.5, random = Math.random, now = () => performance.now() }: LeastTimeOptions = {}): BalancerFactory => ({
  name: 'least-time',
  create() {
    const stats = new Map<Backend, Stats>();
    const statsOf = (backend: Backend): Stats => {
      let entry = stats.get(backend);
      if (!entry) stats.set(backend, (entry = { latency: 0, inFlight: 0, lastHeard: now(), probing: false }));
      return entry;
    };
    const cost = (backend: Backend): number => {
      const entry = statsOf(backend);
      return (entry.latency * (entry.inFlight + 1)) / backend.weight;
    };
    return {
      pick(candidates) {
        const time = now();
        for (const candidate of candidates) {
          const entry = statsOf(candidate);
          if (!entry.probing && entry.inFlight === 0 && time - entry.lastHeard >= probeMs) {
            entry.probing = true;
            return candidate;
          }
        }
        return twoChoices(candidates, random, cost);
      },
      start(backend) {
        statsOf(backend).inFlight += 1;
      },
      end(backend, outcome) {
        const entry = statsOf(backend);
        entry.inFlight = Math.max(0, entry.inFlight - 1);
        entry.probing = false;
        entry.lastHeard = now();
        const sample = outcome.ok ? outcome.latencyMs : Math.max(outcome.latencyMs, entry.latency) * 2;
        entry.latency = sample >= entry.latency ? sample : entry.latency + (sample - entry.latency) * decay;
      },
    };
  },
});

/** Least time over every backend. */
export const leastTime = (options: LeastTimeOptions = {}): Policy => policy({ name: 'least-time', strategy: noKey(), balancer: leastTimeBalancer(options) });
