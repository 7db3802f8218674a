import type { Backend, PolicyRequest, RequestHeaders } from '@apigate/core';
import type { Balancer, Random } from '../types.ts';

/** A backend at `http://{name}` (the URL is what consistent hashing hashes). */
export const backend = (name: string, weight = 1): Backend => ({ url: `http://${name}`, origin: `http://${name}`, basePath: '', weight });

/** Backends `http://b0` … `http://b{count-1}`. */
export const backends = (count: number, prefix = 'b'): Backend[] => Array.from({ length: count }, (_, i) => backend(`${prefix}${i}`));

/** Case-insensitive request headers over a plain record. */
export const headers = (values: Readonly<Record<string, string>> = {}): RequestHeaders => {
  const map = new Map(Object.entries(values).map(([name, value]) => [name.toLowerCase(), value]));
  return {
    get: (name) => map.get(name.toLowerCase()),
    has: (name) => map.has(name.toLowerCase()),
    set: (name, value) => void map.set(name.toLowerCase(), value),
    delete: (name) => void map.delete(name.toLowerCase()),
  };
};

export interface RequestParts {
  readonly headers?: Readonly<Record<string, string>>;
  readonly params?: Readonly<Record<string, string>>;
  readonly clientIp?: string | undefined;
  readonly path?: string;
}

/** A PolicyRequest as the gateway builds it. */
export const policyRequest = ({ headers: values = {}, params = {}, clientIp, path = '/s/x' }: RequestParts = {}): PolicyRequest => ({
  route: { service: 's', method: 'GET', path: '/s/{id}' },
  method: 'GET',
  path,
  headers: headers(values),
  clientIp,
  params,
});

/** A deterministic uniform random source in [0, 1) (mulberry32), so that shares are reproducible. */
export const seeded = (seed: number): Random => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/** How many of `picks` each backend got, by URL. */
export const countBy = (picks: readonly (Backend | undefined)[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const picked of picks) {
    const url = picked?.url ?? 'none';
    counts[url] = (counts[url] ?? 0) + 1;
  }
  return counts;
};

/** Calls `pick` `times` times with keys from `keyOf` (none by default) and counts the picks. */
export const pickMany = (balancer: Balancer, candidates: readonly Backend[], times: number, keyOf: (i: number) => string | undefined = () => undefined): Record<string, number> =>
  countBy(Array.from({ length: times }, (_, i) => balancer.pick(candidates, keyOf(i))));

/** A manual clock for balancers that read time. */
export const manualClock = (start = 1_000): { now: () => number; advance: (ms: number) => void } => {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
};
