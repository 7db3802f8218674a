import { describe, expect, it } from '@jest/globals';
import type { Backend, UpstreamOutcome } from '@apigate/core';
import { byHeader } from './header-sticky/index.ts';
import { leastRequestBalancer } from './least-request/index.ts';
import { policy } from './policy.ts';
import { backends, policyRequest, seeded } from './test-utils/index.ts';
import type { Balancer, BalancerFactory, Strategy } from './types.ts';

/** Sends requests with `x-canary: 1` to the canaries only, everything else to the rest. */
const canary = (isCanary: (backend: Backend) => boolean): Strategy => ({
  name: 'canary',
  route: (request, all) => ({ key: undefined, candidates: all.filter((b) => isCanary(b) === (request.headers.get('x-canary') === '1')) }),
});

/** A balancer that records what it was given and how requests went. */
const recording = (log: unknown[]): BalancerFactory => ({
  name: 'recording',
  create(all) {
    log.push({ create: all.map((b) => b.url) });
    const balancer: Balancer = {
      pick(candidates, key) {
        log.push({ pick: candidates.map((b) => b.url), key });
        return candidates[0];
      },
      start: (backend) => void log.push({ start: backend.url }),
      end: (backend, outcome) => void log.push({ end: backend.url, ok: outcome.ok }),
    };
    return balancer;
  },
});

describe('policy', () => {
  it('defaults to every backend, no key and round robin', () => {
    const list = backends(3);
    const instance = policy().create(list);
    expect(Array.from({ length: 4 }, () => instance.pick(policyRequest())?.url)).toEqual(['http://b0', 'http://b1', 'http://b2', 'http://b0']);
    expect(policy().name).toBe('no-key+round-robin');
  });

  it('names itself strategy+balancer unless given a name', () => {
    expect(policy({ strategy: byHeader('X-User'), balancer: leastRequestBalancer() }).name).toBe('header:x-user+least-request');
    expect(policy({ name: 'mine' }).name).toBe('mine');
  });

  it('hands the strategy candidates and key to the balancer, and start and end through', () => {
    const log: unknown[] = [];
    const list = backends(2);
    const instance = policy({ strategy: byHeader('x-user'), balancer: recording(log) }).create(list);
    const picked = instance.pick(policyRequest({ headers: { 'x-user': 'u1' } }))!;
    instance.start!(picked);
    instance.end!(picked, { ok: false, code: 'upstream_timeout', latencyMs: 5 } satisfies UpstreamOutcome);
    expect(log).toEqual([{ create: ['http://b0', 'http://b1'] }, { pick: ['http://b0', 'http://b1'], key: 'u1' }, { start: 'http://b0' }, { end: 'http://b0', ok: false }]);
  });

  it('leaves start and end out when the balancer has none', () => {
    const instance = policy().create(backends(2));
    expect(instance.start).toBeUndefined();
    expect(instance.end).toBeUndefined();
  });

  it('picks nothing, without asking the balancer, when the strategy leaves no candidate', () => {
    const log: unknown[] = [];
    const none: Strategy = { name: 'none', route: () => ({ key: 'k', candidates: [] }) };
    expect(policy({ strategy: none, balancer: recording(log) }).create(backends(2)).pick(policyRequest())).toBeUndefined();
    expect(log).toEqual([{ create: ['http://b0', 'http://b1'] }]);
  });

  it('routes a canary subset with a custom strategy and balances inside it', () => {
    const list = [...backends(3), ...backends(2, 'canary')];
    const instance = policy({ strategy: canary((b) => b.url.includes('canary')), balancer: leastRequestBalancer({ random: seeded(1) }) }).create(list);
    for (let i = 0; i < 100; i++) {
      expect(instance.pick(policyRequest({ headers: { 'x-canary': '1' } }))!.url).toMatch(/canary/);
      expect(instance.pick(policyRequest())!.url).not.toMatch(/canary/);
    }
  });

  it('makes a separate balancer per create, so services do not share state', () => {
    const shared = policy();
    const [x, y] = [shared.create(backends(2, 'x')), shared.create(backends(2, 'y'))];
    expect([x.pick(policyRequest())?.url, y.pick(policyRequest())?.url, x.pick(policyRequest())?.url]).toEqual(['http://x0', 'http://y0', 'http://x1']);
  });

  it("leaves the backends a retry excludes out of the candidates, and the strategy's key still decides", () => {
    const list = backends(3);
    const log: unknown[] = [];
    const instance = policy({ strategy: byHeader('x-user'), balancer: recording(log) }).create(list);
    const request = { ...policyRequest({ headers: { 'x-user': 'u1' } }), exclude: new Set([list[0]!]) };
    expect(instance.pick(request)?.url).toBe('http://b1');
    expect(log.at(-1)).toEqual({ pick: ['http://b1', 'http://b2'], key: 'u1' });
    expect(instance.pick({ ...request, exclude: new Set(list) })).toBeUndefined();
  });
});
