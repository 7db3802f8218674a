import { smoothRoundRobin, type Backend } from '@apigate/core';
import { hashPair, unitScore } from '../internal/hash.ts';
import type { BalancerFactory } from '../types.ts';

/**
 * Weighted rendezvous (highest random weight) hashing: every candidate scores
 * `-weight / ln(u)`, where `u` in (0, 1) comes from MurmurHash3 of the key and of the backend's
 * URL, and the highest score wins. The same key and backend list pick the same backend in every
 * process; adding or removing one of N backends moves only the keys that backend wins or held
 * (about 1/N). Without a key it falls back to round robin.
 */
export const consistentHashBalancer = (): BalancerFactory => ({
  name: 'consistent-hash',
  create() {
    const backendHashes = new WeakMap<Backend, readonly [number, number]>();
    const fallback = smoothRoundRobin();
    const hashOf = (backend: Backend): readonly [number, number] => {
      let hash = backendHashes.get(backend);
      if (!hash) backendHashes.set(backend, (hash = hashPair(backend.url)));
      return hash;
    };
    return {
      pick(candidates, key) {
        if (key === undefined) return fallback(candidates);
        const keyHash = hashPair(key);
        let best: Backend | undefined;
        let bestScore = Number.NEGATIVE_INFINITY;
        for (const candidate of candidates) {
          const score = -candidate.weight / Math.log(unitScore(keyHash, hashOf(candidate)));
          if (score > bestScore) {
            best = candidate;
            bestScore = score;
          }
        }
        return best;
      },
    };
  },
});
