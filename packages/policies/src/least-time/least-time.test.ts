import { describe, expect, it } from '@jest/globals';
import type { Backend, UpstreamOutcome } from '@apigate/core';
import { backend, manualClock, pickMany, policyRequest, seeded } from '../test-utils/index.ts';
import type { Balancer } from '../types.ts';
import { leastTime, leastTimeBalancer, type LeastTimeOptions } from './index.ts';

const ok = (latencyMs: number): UpstreamOutcome => ({ ok: true, status: 200, latencyMs });
const failed = (latencyMs: number): UpstreamOutcome => ({ ok: false, code: 'upstream_unavailable', latencyMs });

/** How one backend answers at the moment: its latency and whether it fails. */
type Behaviour = (backend: Backend) => { readonly latencyMs: number; readonly ok?: boolean };

/**
 * A discrete-event simulation on a fake clock: `concurrency` clients each send a request, wait
 * for its answer (the backend's latency) and send the next. Returns how many of `requests` each
 * backend took. Nothing here reads the wall clock.
 */
const simulate = (
  balancer: Balancer,
  list: readonly Backend[],
  clock: ReturnType<typeof manualClock>,
  { requests, concurrency, behaviour }: { requests: number; concurrency: number; behaviour: Behaviour },
): Map<Backend, number> => {
  const counts = new Map<Backend, number>(list.map((b) => [b, 0]));
  const pending: { at: number; backend: Backend; outcome: UpstreamOutcome }[] = [];
  const dispatch = (): void => {
    const picked = balancer.pick(list, undefined)!;
    balancer.start!(picked);
    counts.set(picked, counts.get(picked)! + 1);
    const { latencyMs, ok: succeeded = true } = behaviour(picked);
    pending.push({ at: clock.now() + latencyMs, backend: picked, outcome: succeeded ? ok(latencyMs) : failed(latencyMs) });
  };
  let sent = 0;
  for (; sent < Math.min(concurrency, requests); sent++) dispatch();
  while (pending.length > 0) {
    pending.sort((x, y) => x.at - y.at);
    const next = pending.shift()!;
    clock.advance(next.at - clock.now());
    balancer.end!(next.backend, next.outcome);
    if (sent < requests) {
      sent++;
      dispatch();
    }
  }
  return counts;
};

const setup = (options: Partial<LeastTimeOptions> = {}, list = [backend('fast'), backend('slow')]) => {
  const clock = manualClock();
  const balancer = leastTimeBalancer({ random: seeded(17), now: clock.now, ...options }).create(list);
  return { clock, balancer, list };
};

describe('leastTimeBalancer', () => {
  it.each([
    [[1, 1]],
    [[90, 10]],
    [[5, 3, 2]],
  ])('gives unmeasured backends with weights %j their share of 10 000 picks within ± 2 points', (weights) => {
    const list = weights.map((weight, i) => backend(`w${i}`, weight));
    const total = weights.reduce((sum, w) => sum + w, 0);
    const { balancer } = setup({}, list);
    const counts = pickMany(balancer, list, 10_000);
    list.forEach((b, i) => expect(Math.abs((counts[b.url] ?? 0) / 10_000 - weights[i]! / total)).toBeLessThan(0.02));
  });

  it('keeps a 90/10 canary within ± 2 points when both answer equally fast, one request at a time', () => {
    const list = [backend('stable', 90), backend('canary', 10)];
    const { balancer, clock } = setup({}, list);
    const counts = simulate(balancer, list, clock, { requests: 10_000, concurrency: 1, behaviour: () => ({ latencyMs: 5 }) });
    expect(Math.abs(counts.get(list[1]!)! / 10_000 - 0.1)).toBeLessThan(0.02);
  });

  it('keeps weights 5/3/2 within ± 3 points when all answer equally fast, 8 requests at a time', () => {
    const list = [backend('a', 5), backend('b', 3), backend('c', 2)];
    const { balancer, clock } = setup({}, list);
    const counts = simulate(balancer, list, clock, { requests: 10_000, concurrency: 8, behaviour: () => ({ latencyMs: 5 }) });
    list.forEach((b, i) => expect(Math.abs(counts.get(b)! / 10_000 - [0.5, 0.3, 0.2][i]!)).toBeLessThan(0.03));
  });

  it('measures load relative to weight: a heavier backend takes more requests in flight before it costs more', () => {
    const [heavy, light] = [backend('heavy', 3), backend('light')];
    const { balancer } = setup({}, [heavy, light]);
    balancer.end!(heavy, ok(10));
    balancer.end!(light, ok(10));
    // Mean weight 2: heavy with 3 in flight costs 10 × (1 + 3 × 2/3) = 30; light with 2, 10 × (1 + 2 × 2) = 50.
    for (let i = 0; i < 3; i++) balancer.start!(heavy);
    balancer.start!(light);
    balancer.start!(light);
    for (let i = 0; i < 20; i++) expect(balancer.pick([heavy, light], undefined)).toBe(heavy);
  });

  it('sheds load from a slow backend and wins it back after the backend speeds up', () => {
    const { balancer, clock, list } = setup();
    const [fast, slow] = list as [Backend, Backend];
    let slowLatency = 150;
    const behaviour: Behaviour = (b) => ({ latencyMs: b === slow ? slowLatency : 10 });

    // Warm-up: both get measured.
    simulate(balancer, list, clock, { requests: 20, concurrency: 4, behaviour });
    const shed = simulate(balancer, list, clock, { requests: 2_000, concurrency: 4, behaviour });
    // 2 000 requests at ~4 per 10 ms take ~5 s of fake time: the slow one gets little beyond probes.
    expect(shed.get(slow)!).toBeLessThan(100);
    expect(shed.get(fast)!).toBeGreaterThan(1_900);

    slowLatency = 10;
    let windows = 0;
    let share = 0;
    while (windows < 20 && share < 0.3) {
      windows++;
      share = simulate(balancer, list, clock, { requests: 200, concurrency: 4, behaviour }).get(slow)! / 200;
    }
    expect(share).toBeGreaterThanOrEqual(0.3);
    // Won back within a bounded number of requests (well under 20 windows of 200).
    expect(windows).toBeLessThanOrEqual(10);
  });

  it('jumps up on the first slow sample and comes down by `decay` per faster sample', () => {
    const { balancer, list } = setup({ decay: 0.5 });
    const [a, b] = list as [Backend, Backend];
    // a at 100 ms, b at 60 ms: b is cheaper.
    balancer.end!(a, ok(100));
    balancer.end!(b, ok(60));
    expect(balancer.pick(list, undefined)).toBe(b);
    // One slow sample moves b at once above a.
    balancer.end!(b, ok(200));
    expect(balancer.pick(list, undefined)).toBe(a);
    // 200 → 100 (tie with a, first drawn wins) → 50: two fast samples to be cheaper again.
    balancer.end!(b, ok(0));
    balancer.end!(b, ok(0));
    for (let i = 0; i < 20; i++) expect(balancer.pick(list, undefined)).toBe(b);
  });

  it('weighs the estimate by requests in flight', () => {
    const { balancer, list } = setup();
    const [a, b] = list as [Backend, Backend];
    balancer.end!(a, ok(10));
    balancer.end!(b, ok(25));
    expect(balancer.pick(list, undefined)).toBe(a);
    // a: 10 × (2 + 1) = 30 > b: 25 × 1.
    balancer.start!(a);
    balancer.start!(a);
    expect(balancer.pick(list, undefined)).toBe(b);
  });

  it('counts failures as slow: a backend that fails as fast as its peer answers sheds its traffic', () => {
    const { balancer, clock, list } = setup();
    const [healthy, broken] = list as [Backend, Backend];
    const counts = simulate(balancer, list, clock, {
      requests: 2_000,
      concurrency: 4,
      behaviour: (b) => ({ latencyMs: 10, ok: b === healthy }),
    });
    expect(counts.get(broken)!).toBeLessThan(100);
    expect(counts.get(healthy)!).toBeGreaterThan(1_900);
  });

  it('counts a failure as twice as slow as the slower of its latency and the estimate', () => {
    const { balancer, list } = setup();
    const [a, b] = list as [Backend, Backend];
    balancer.end!(a, ok(35));
    balancer.end!(b, ok(20));
    expect(balancer.pick(list, undefined)).toBe(b);
    // A 1 ms failure counts as 2 × 20 = 40 ms: now a (35) is cheaper.
    balancer.end!(b, failed(1));
    for (let i = 0; i < 20; i++) expect(balancer.pick(list, undefined)).toBe(a);
  });

  it('does not count a client that left as a failure of the backend, only as a lower bound on its latency', () => {
    const { balancer, list } = setup();
    const [a, b] = list as [Backend, Backend];
    balancer.end!(a, ok(10));
    balancer.end!(b, ok(15));
    // The client left after 2 ms: a is still a 10 ms backend, not a 20 ms one.
    balancer.end!(a, { ok: false, code: 'client_closed', latencyMs: 2 });
    for (let i = 0; i < 20; i++) expect(balancer.pick(list, undefined)).toBe(a);
    // The client left after 500 ms without an answer: a takes at least that long.
    balancer.end!(a, { ok: false, code: 'client_closed', latencyMs: 500 });
    for (let i = 0; i < 20; i++) expect(balancer.pick(list, undefined)).toBe(b);
  });

  it('recovers from a long outage: a backend that failed 2 000 times in a row wins traffic back after it answers fast again', () => {
    const { balancer, list } = setup();
    const [a, b] = list as [Backend, Backend];
    balancer.end!(a, ok(10));
    for (let i = 0; i < 2_000; i++) balancer.end!(b, failed(5));
    for (let i = 0; i < 30; i++) balancer.end!(b, ok(5));
    for (let i = 0; i < 20; i++) expect(balancer.pick(list, undefined)).toBe(b);
  });

  it('never counts a failure as slower than a minute, or than its own latency', () => {
    const { balancer, list } = setup();
    const [a, b] = list as [Backend, Backend];
    balancer.end!(a, ok(59_000));
    for (let i = 0; i < 100; i++) balancer.end!(b, failed(1));
    // b: capped at 60 000 ms; a (59 000) is cheaper, but a 50 000 ms success on b moves it below.
    expect(balancer.pick(list, undefined)).toBe(a);
    balancer.end!(b, ok(50_000));
    balancer.end!(b, ok(50_000));
    expect(balancer.pick(list, undefined)).toBe(b);
    // A failure that took 90 s counts 90 s, not the one-minute cap.
    balancer.end!(a, failed(90_000));
    balancer.end!(b, ok(80_000));
    expect(balancer.pick(list, undefined)).toBe(b);
  });

  it('does not pile requests onto a new backend that has not answered yet', () => {
    const { balancer, clock, list } = setup();
    const [fast, hung] = list as [Backend, Backend];
    // hung answers only after 30 s (a request timeout); count the requests that join it meanwhile.
    let waiting = 0;
    let joined = 0;
    const counting: Balancer = {
      pick: (candidates, key) => balancer.pick(candidates, key),
      start(b) {
        if (b === hung && waiting++ > 0 && clock.now() > 1_000) joined++;
        balancer.start!(b);
      },
      end(b, outcome) {
        if (b === hung) waiting--;
        balancer.end!(b, outcome);
      },
    };
    const counts = simulate(counting, list, clock, { requests: 2_000, concurrency: 8, behaviour: (b) => (b === hung ? { latencyMs: 30_000, ok: false } : { latencyMs: 10 }) });
    expect(counts.get(fast)!).toBeGreaterThan(1_950);
    // The first 8 requests split by weight (nothing is measured yet); once fast has answered, the
    // age of hung's oldest request counts as its latency, so no more requests join the wait.
    expect(joined).toBe(0);
  });

  describe('the probe', () => {
    it('sends the next request to a backend not heard from for probeMs, once, then waits probeMs again', () => {
      const { balancer, clock, list } = setup({ probeMs: 500 });
      const [fast, slow] = list as [Backend, Backend];
      balancer.end!(fast, ok(1));
      balancer.end!(slow, ok(1_000));
      expect(balancer.pick(list, undefined)).toBe(fast);

      clock.advance(499);
      balancer.end!(fast, ok(1));
      expect(balancer.pick(list, undefined)).toBe(fast);
      clock.advance(1);
      // 500 ms without news from slow: it gets the next request, though it looks slow.
      expect(balancer.pick(list, undefined)).toBe(slow);
      balancer.start!(slow);
      // One probe at a time: while it is out, the rest goes by cost.
      for (let i = 0; i < 10; i++) expect(balancer.pick(list, undefined)).toBe(fast);
      clock.advance(1_000);
      for (let i = 0; i < 10; i++) expect(balancer.pick(list, undefined)).toBe(fast);
      balancer.end!(slow, ok(1_000));
      // Just heard from: no probe before another 500 ms.
      clock.advance(499);
      balancer.end!(fast, ok(1));
      expect(balancer.pick(list, undefined)).toBe(fast);
      clock.advance(1);
      expect(balancer.pick(list, undefined)).toBe(slow);
    });

    it('measures a recovered backend through probes alone, with no other traffic reaching it', () => {
      const { balancer, clock, list } = setup({ probeMs: 100 });
      const [fast, slow] = list as [Backend, Backend];
      balancer.end!(fast, ok(10));
      balancer.end!(slow, ok(500));
      let probes = 0;
      for (let i = 0; i < 50 && balancer.pick(list, undefined) !== slow; i++) {
        clock.advance(100);
        balancer.end!(fast, ok(10));
        const picked = balancer.pick(list, undefined)!;
        if (picked === slow) {
          probes++;
          balancer.start!(slow);
          balancer.end!(slow, ok(2));
        }
      }
      // 500 → 251 → 126.5 → … → under 10 ms after 6 fast probes.
      expect(probes).toBe(6);
    });

    it('probes no backend while the clock stands still', () => {
      const { balancer, list } = setup({ probeMs: 500 });
      const [fast, slow] = list as [Backend, Backend];
      balancer.end!(fast, ok(1));
      balancer.end!(slow, ok(100));
      for (let i = 0; i < 100; i++) expect(balancer.pick(list, undefined)).toBe(fast);
    });
  });
});

describe('leastTime preset', () => {
  it('balances over every backend and hears start and end', () => {
    const clock = manualClock();
    const [a, b] = [backend('a'), backend('b')];
    const instance = leastTime({ now: clock.now, random: seeded(3) }).create([a, b]);
    instance.start!(a);
    instance.end!(a, ok(50));
    instance.start!(b);
    instance.end!(b, ok(5));
    expect(instance.pick(policyRequest())).toBe(b);
    expect(leastTime().name).toBe('least-time');
  });
});
