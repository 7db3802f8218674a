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
  /** When each request in flight started, oldest first. */
  started: number[];
  lastHeard: number;
  probing: boolean;
}

/**
 * The most a failure adds: a failure counts twice as slow as the slower of its latency and the
 * estimate, but never more than a minute (or its own latency). Doubling without a bound would let
 * a long outage push the estimate to Infinity, and the first success after it to NaN, which never
 * comes down again; a bounded estimate comes back in a dozen fast samples.
 */
const failureCeilingMs = 60_000;
const failureSample = (latencyMs: number, estimate: number): number =>
  Math.max(estimate, Math.min(Math.max(latencyMs, estimate) * 2, Math.max(failureCeilingMs, latencyMs)));

/**
 * Least time: a latency estimate (peak-sensitive moving average, failures counted as doubly slow,
 * a client that left as a lower bound) times one plus the requests in flight relative to weight,
 * by the power of two choices. A slow backend sheds load after its first slow answers; probes let
 * it win traffic back once it is fast.
 * A request in flight for longer than the estimate counts as a sample already, so a backend that
 * stops answering (or has never answered) does not keep drawing requests until they time out.
 * Weights scale the load, not the latency: equally fast idle backends tie, and ties go by weight.
 */
export const leastTimeBalancer = ({ probeMs = 500, decay = 0.5, random = Math.random, now = () => performance.now() }: LeastTimeOptions = {}): BalancerFactory => ({
  name: 'least-time',
  create() {
    const stats = new Map<Backend, Stats>();
    const statsOf = (backend: Backend): Stats => {
      let entry = stats.get(backend);
      if (!entry) stats.set(backend, (entry = { latency: 0, started: [], lastHeard: now(), probing: false }));
      return entry;
    };
    /** The time of the pick being made and the mean weight of its candidates, read once per pick. */
    let time = 0;
    let meanWeight = 1;
    const cost = (backend: Backend): number => {
      const { latency, started } = statsOf(backend);
      const waited = started.length === 0 ? 0 : time - started[0]!;
      // With equal weights this is latency × (in flight + 1). Dividing the whole product by the
      // weight would make the heavier of two equally fast idle backends win every time, so a
      // 90/10 canary would see no traffic but probes.
      return Math.max(latency, waited) * (1 + (started.length * meanWeight) / backend.weight);
    };
    return {
      pick(candidates) {
        time = now();
        let total = 0;
        for (const candidate of candidates) total += candidate.weight;
        meanWeight = total / candidates.length;
        for (const candidate of candidates) {
          const entry = statsOf(candidate);
          if (!entry.probing && entry.started.length === 0 && time - entry.lastHeard >= probeMs) {
            entry.probing = true;
            return candidate;
          }
        }
        return twoChoices(candidates, random, cost);
      },
      start(backend) {
        statsOf(backend).started.push(now());
      },
      end(backend, outcome) {
        const entry = statsOf(backend);
        // Requests may end out of order; dropping the oldest start can only make the wait look shorter.
        entry.started.shift();
        entry.probing = false;
        entry.lastHeard = now();
        // A client that left says nothing of the backend's health, only that it had not answered
        // yet: the time waited is a lower bound, not a failure.
        const sample = outcome.ok
          ? outcome.latencyMs
          : outcome.code === 'client_closed'
            ? Math.max(outcome.latencyMs, entry.latency)
            : failureSample(outcome.latencyMs, entry.latency);
        entry.latency = sample >= entry.latency ? sample : entry.latency + (sample - entry.latency) * decay;
      },
    };
  },
});

/** Least time over every backend. */
export const leastTime = (options: LeastTimeOptions = {}): Policy => policy({ name: 'least-time', strategy: noKey(), balancer: leastTimeBalancer(options) });
