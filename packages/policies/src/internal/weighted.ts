import type { Backend } from '@apigate/core';
import type { Random } from '../types.ts';

/** One candidate drawn with probability proportional to its weight, skipping `except`. */
export const drawByWeight = (candidates: readonly Backend[], random: Random, except?: Backend): Backend | undefined => {
  let total = 0;
  for (const candidate of candidates) if (candidate !== except) total += candidate.weight;
  if (total <= 0) return undefined;
  let point = random() * total;
  let last: Backend | undefined;
  for (const candidate of candidates) {
    if (candidate === except) continue;
    last = candidate;
    point -= candidate.weight;
    if (point < 0) return candidate;
  }
  return last;
};

/**
 * Power of two choices: draws two distinct candidates by weight and keeps the cheaper; on a tie
 * the first drawn, so shares follow the weights when costs are equal.
 */
export const twoChoices = (candidates: readonly Backend[], random: Random, cost: (backend: Backend) => number): Backend | undefined => {
  if (candidates.length <= 1) return candidates[0];
  const first = drawByWeight(candidates, random)!;
  const second = drawByWeight(candidates, random, first);
  if (second === undefined) return first;
  return cost(second) < cost(first) ? second : first;
};
