import { describe, expect, it } from '@jest/globals';
import { casesFor, comparisons, contestants, passthrough, rateContestants, rateTargets, transportNames, workloads, type Case } from './cases.ts';
import { pairKey, render, sampleKey, type RateGenerator, type RateSample, type ReportInput, type Sample, type UploadResult } from './report.ts';
import { median } from './stats.ts';
import type { CoreStalls } from './load.ts';

const sample = (rps: number, extra: Partial<Sample> = {}): Sample => ({ rps, p50ms: 1, p99ms: 2, cpuPct: 100, noisePct: 0, rssMiB: 100, errors: 0, non2xx: 0, ...extra });

const tiny = (id: string, contestant = id): Case => ({ id, label: `label of ${id}`, contestant, workload: 'tiny', path: '/api/tiny' });

const upload: UploadResult = { label: 'apigate express', mebibytes: 512, received: 536870912, status: 200, seconds: 1.2, rssBeforeMiB: 100, peakMiB: 150, growthMiB: 50, peakReset: true };

const input = (samples: Record<string, Sample[]>, overrides: Partial<ReportInput> = {}): ReportInput => ({
  command: 'pnpm bench',
  date: '2026-11-21T00:00:00Z',
  quick: false,
  rounds: 3,
  warmSeconds: 1,
  firstWarmSeconds: 3,
  seconds: 3,
  machine: { cpu: 'test cpu', cores: 2, memoryGiB: 4, kernel: 'Linux test' },
  versions: { node: 'v24' },
  loadTool: 'wrk',
  pinning: true,
  workloads,
  cases: [tiny('direct'), tiny('express-http-proxy-3'), tiny('apigate-express')],
  samples: new Map(Object.entries(samples).map(([id, list]) => [sampleKey(id, 'tiny'), list])),
  comparisons,
  rate: { rps: 1000, seconds: 5, warmSeconds: 1, connections: 20, generator: { kind: 'open-loop' }, busyPct: 10, samples: [] },
  uploads: [upload],
  uploadLimitMiB: 64,
  durationSeconds: 10,
  loadAverage: '0.1 0.1 0.1',
  retries: 0,
  noiseRetryPct: 30,
  ...overrides,
});

/** The cells of the markdown table row whose first cell (or second, after a rank) starts with `start`. */
const row = (report: string, start: string): string[] | undefined =>
  report
    .split('\n')
    .map((line) => line.split('|').map((cell) => cell.trim()))
    .find((cells) => cells[1]?.startsWith(start) === true || cells[2]?.startsWith(start) === true);

describe('bench report', () => {
  it('says in Setup whether DAMON was turned off and which kernel threads were moved off the contestant\'s core, and nothing when neither', () => {
    const samples = { direct: [sample(100_000)] };
    expect(render(input(samples, { kernelThreadsMoved: ['kdamond.0'] }))).toContain('- Kernel threads moved to the load core for the run: `kdamond.0` (DAMON');
    expect(render(input(samples, { kernelThreadsMoved: [] }))).not.toContain('Kernel threads moved');
    expect(render(input(samples, { damonPaused: ['kdamonds/0'] }))).toContain('- DAMON turned off for the run and back on after it: `kdamonds/0` (');
    expect(render(input(samples, { damonPaused: [] }))).not.toContain('DAMON turned off');
    expect(render(input(samples))).not.toContain('Kernel threads moved');
  });

  it('sets the stall probe of each core beside the steady-rate latencies', () => {
    const probe = (core: string, stalls: number): CoreStalls => ({ core, seconds: 5, thresholdMs: 0.5, stalls, over2ms: 1, lostMs: 12.34, longestMs: 3.21 });
    const direct: RateSample = { id: 'direct', label: 'origin direct (nginx)', rps: 1000, p50ms: 0.1, p99ms: 0.2, errors: 0, non2xx: 0, cpuPct: 3, noisePct: Number.NaN, loadNoisePct: 0.4, runQueueMsPerS: 0.1, upstreamConnects: Number.NaN, attempts: 1 };
    const rate = { rps: 1000, seconds: 5, warmSeconds: 1, connections: 20, generator: { kind: 'open-loop' } as const, busyPct: 10, samples: [direct] };
    const report = render(input({ direct: [sample(100_000)] }, { rate: { ...rate, stalls: [probe('0', 3), probe('1', 40)] } }));
    expect(report).toContain("counted the wake-ups more than 0.5 ms late: core 0 (the contestant's) 3 (1 over 2 ms; 12.3 ms lost, the longest 3.2 ms); core 1 (the load core) 40 (1 over 2 ms;");
    expect(report).toContain('a p99 over 5 000 requests takes 50 late ones to move');
    expect(render(input({ direct: [sample(100_000)] }, { rate }))).not.toContain('stalls.c');
  });

  it('takes the median of per-round ratios, not the ratio of medians', () => {
    // Round by round: 0.5, 1.0, 0.95 → median 0.95. The ratio of the req/s medians would be 1.
    const report = render(
      input({
        direct: [sample(100_000), sample(100_000), sample(100_000)],
        'express-http-proxy-3': [sample(2000), sample(1000), sample(1000)],
        'apigate-express': [sample(1000), sample(1000), sample(950)],
      }),
    );
    const target = row(report, 'apigate passthrough on express');
    expect(target?.[3]).toBe('0.95');
    expect(target?.[4]).toBe('**pass** (≥ 0.9)');
    expect(median([1000, 1000, 950]) / median([2000, 1000, 1000])).toBe(1);
  });

  it('judges a target on its paired ABBA blocks when they were run, and shows each block', () => {
    const samples = { direct: [sample(100_000)], 'express-http-proxy-3': [sample(1000)], 'apigate-express': [sample(800)] };
    const passthroughTarget = comparisons.find((c) => c.a === 'apigate-express' && c.b === 'express-http-proxy-3' && c.target !== undefined)!;
    const paired = new Map([[pairKey(passthroughTarget), [{ rps: 0.97, perCpu: 0.99 }, { rps: 0.93, perCpu: 0.98 }, { rps: 1.01, perCpu: 1 }]]]);
    const target = row(render(input(samples, { paired })), 'apigate passthrough on express');
    // The rounds say 0.80; the blocks' median, 0.97, decides.
    expect(target?.slice(3, 8)).toEqual(['0.80', '**pass** (≥ 0.9)', '0.80', '0.97 (0.97, 0.93, 1.01)', '0.99']);
    expect(row(render(input(samples)), 'apigate passthrough on express')?.[4]).toBe('**FAIL** (< 0.9)');
  });

  it('judges the steady-rate p99 of apigate against direct, when the rate was paced', () => {
    const samples = { direct: [sample(100_000)], 'express-http-proxy-3': [sample(1000)], 'apigate-express': [sample(1000)] };
    const rate = (p99ms: number, generator: RateGenerator, noisePct = 0): ReportInput['rate'] => ({
      rps: 1000,
      seconds: 5,
      warmSeconds: 1,
      connections: 20,
      generator,
      busyPct: 10,
      samples: [
        { id: 'direct', label: 'origin direct (nginx)', rps: 1000, p50ms: 0.2, p99ms: 0.5, errors: 0, non2xx: 0, loadNoisePct: 0 },
        { id: 'apigate-express', label: 'apigate express', rps: 1000, p50ms: 0.6, p99ms, errors: 0, non2xx: 0, noisePct, loadNoisePct: 0 },
      ],
    });
    expect(row(render(input(samples, { rate: rate(1.2, { kind: 'open-loop' }) })), 'p99 at the steady rate')?.slice(3, 5)).toEqual(['0.700 ms', '**pass** (≤ 1 ms)']);
    expect(row(render(input(samples, { rate: rate(2.5, { kind: 'open-loop' }) })), 'p99 at the steady rate')?.[4]).toBe('**FAIL** (> 1 ms)');
    // wrk's paced closed loop (the fallback without a C compiler) still gets a verdict, said so above the table.
    expect(row(render(input(samples, { rate: rate(2.5, { kind: 'wrk', delayMs: 20 }) })), 'p99 at the steady rate')?.[4]).toBe('**FAIL** (> 1 ms)');
    // autocannon's bursts are no steady rate: no verdict on them.
    expect(row(render(input(samples, { rate: rate(1.2, { kind: 'autocannon' }) })), 'p99 at the steady rate')).toBeUndefined();
    // A neighbour on the contestant's core can only have added latency: a miss then is no verdict, a pass stands.
    expect(row(render(input(samples, { rate: rate(2.5, { kind: 'open-loop' }, 40) })), 'p99 at the steady rate')?.[4]).toBe('n/a (> 1 ms, but the machine was busy: 40 % other load on a core)');
    expect(row(render(input(samples, { rate: rate(1.2, { kind: 'open-loop' }, 40) })), 'p99 at the steady rate')?.[4]).toBe('**pass** (≤ 1 ms)');
    expect(row(render(input(samples, { rate: rate(2.5, { kind: 'open-loop' }, 8) })), 'p99 at the steady rate')?.[4]).toBe('**FAIL** (> 1 ms)');
  });

  it('shows, beside each steady-rate latency, how calm the run was and how the pool behaved', () => {
    const steady: RateSample = {
      id: 'apigate-express',
      label: 'apigate express',
      rps: 1000,
      p50ms: 0.25,
      p90ms: 0.4,
      p99ms: 0.9,
      p999ms: 3.25,
      maxMs: 7.5,
      queuedMax: 2,
      errors: 0,
      non2xx: 0,
      cpuPct: 14.4,
      noisePct: 1.2,
      loadNoisePct: 3.6,
      runQueueMsPerS: 2.25,
      helperMsPerS: 4.25,
      upstreamConnects: 0,
      attempts: 2,
    };
    const direct: RateSample = { id: 'direct', label: 'origin direct (nginx)', rps: 1000, p50ms: 0.1, p99ms: 0.2, errors: 0, non2xx: 0, cpuPct: 3, noisePct: Number.NaN, loadNoisePct: 0.4, runQueueMsPerS: 0.1, upstreamConnects: Number.NaN, attempts: 1 };
    const report = render(input({ direct: [sample(100_000)] }, { rate: { rps: 1000, seconds: 5, warmSeconds: 1, connections: 20, generator: { kind: 'open-loop' }, busyPct: 10, samples: [direct, steady] } }));
    expect(report).toContain('An open-loop generator');
    expect(report).toContain('1 000 requests a second due at even intervals');
    expect(row(report, 'p99 at the steady rate within 1 ms of direct: apigate express on NodeTransport (http-proxy-3, the reference)')?.[2]).toBe('p99 0.900 ms − direct 0.200 ms (other load in the kept run: 1 % of core 0, 4 % of the load core)');
    const section = report.slice(report.indexOf('## Latency at a steady moderate rate'));
    expect(row(section, 'apigate express')?.slice(1, 17)).toEqual(['apigate express', '1 000', '0.250', '0.400', '0.900', '3.250', '7.500', '14', '1', '4', '2.3', '4.3', '0', '2', '0', '0']);
    // Direct has no upstream of its own and its core is the load core: dashes, not zeros.
    expect(row(section, 'origin direct (nginx)')?.slice(8, 14)).toEqual(['3', '–', '0', '0.1', '–', '–']);
  });

  it('judges the undici transport\'s fast-gateway target in its own row beside the NodeTransport one, and says which transport is the default', () => {
    const cases = [tiny('direct'), tiny('fast-gateway'), tiny('apigate-koa'), tiny('apigate-koa-undici')];
    const samples = {
      direct: [sample(100_000), sample(100_000), sample(100_000)],
      'fast-gateway': [sample(1000), sample(1000), sample(1000)],
      'apigate-koa': [sample(700), sample(650), sample(600, { cpuPct: 50 })],
      'apigate-koa-undici': [sample(1050), sample(1300), sample(1000)],
    };
    const undiciTarget = comparisons.find((c) => c.a === 'apigate-koa-undici' && c.b === 'fast-gateway' && c.workload === 'tiny')!;
    const paired = new Map([[pairKey(undiciTarget), [{ rps: 1.12, perCpu: 1.1 }, { rps: 1.2, perCpu: 1.15 }, { rps: 1.08, perCpu: 1.05 }]]]);
    const report = render(input(samples, { cases, paired }));
    // The rounds say 1.05 for undici (a miss); its paired blocks, 1.12, decide. NodeTransport has no blocks: its rounds decide.
    expect(row(report, 'apigate koa on UndiciTransport (undici, the default) ≥ 1.1 × fast-gateway')?.slice(2, 8)).toEqual(['label of apigate-koa-undici / label of fast-gateway', '1.05', '**pass** (≥ 1.1)', '1.05', '1.12 (1.12, 1.20, 1.08)', '1.10']);
    expect(row(report, 'apigate koa on NodeTransport (http-proxy-3, the reference) ≥ 1.1 × fast-gateway')?.slice(2, 8)).toEqual(['label of apigate-koa / label of fast-gateway', '0.65', '**FAIL** (< 1.1)', '0.70', '', '–']);
    expect(report).toContain('Rows that say “on UndiciTransport (undici, the default)” are about the transport on undici\'s dispatcher that an adapter makes when given none');
    // Without an undici row there is nothing to explain.
    const nodeOnly = render(input({ direct: samples.direct, 'fast-gateway': samples['fast-gateway'], 'apigate-koa': samples['apigate-koa'] }, { cases: cases.slice(0, 3) }));
    expect(row(nodeOnly, 'apigate koa on NodeTransport')?.[4]).toBe('**FAIL** (< 1.1)');
    expect(nodeOnly).not.toContain('UndiciTransport');
  });

  it('judges the JSON-validated route on the undici transport against express + zod + http-proxy-middleware', () => {
    const json = (id: string, contestant = id): Case => ({ id, label: `label of ${id}`, contestant, workload: 'json', path: '/api/orders' });
    const cases = [json('direct'), json('express-zod-hpm'), json('apigate-express-json', 'apigate-express-routes'), json('apigate-express-json-undici', 'apigate-express-routes-undici')];
    const samples = new Map([
      [sampleKey('direct', 'json'), [sample(50_000)]],
      [sampleKey('express-zod-hpm', 'json'), [sample(1000)]],
      [sampleKey('apigate-express-json', 'json'), [sample(900)]],
      [sampleKey('apigate-express-json-undici', 'json'), [sample(1600)]],
    ]);
    const report = render({ ...input({}), cases, samples });
    expect(row(report, 'JSON-validated route on UndiciTransport (undici, the default) ≥ 1.5 × express + zod + http-proxy-middleware')?.slice(3, 5)).toEqual(['1.60', '**pass** (≥ 1.5)']);
    expect(row(report, 'JSON-validated route on NodeTransport (http-proxy-3, the reference) ≥ 1.5 × express + zod + http-proxy-middleware')?.slice(3, 5)).toEqual(['0.90', '**FAIL** (< 1.5)']);
    // Beside the targets, what the transport alone changes on that route.
    expect(row(report, 'the undici transport vs NodeTransport (http-proxy-3), JSON-validated route')?.slice(2, 4)).toEqual(['json', '1.78']);
  });

  it('judges the steady-rate p99 of apigate on the undici transport in a row of its own', () => {
    const steady = (id: string, label: string, p99ms: number): RateSample => ({ id, label, rps: 1000, p50ms: 0.3, p99ms, errors: 0, non2xx: 0, noisePct: 0, loadNoisePct: 0 });
    const rate: ReportInput['rate'] = {
      rps: 1000,
      seconds: 5,
      warmSeconds: 1,
      connections: 20,
      generator: { kind: 'open-loop' },
      busyPct: 10,
      samples: [steady('direct', 'origin direct (nginx)', 0.5), steady('apigate-hono-node', 'apigate hono-node', 2), steady('apigate-hono-node-undici', 'apigate hono-node, undici transport', 1.3)],
    };
    const report = render(input({ direct: [sample(100_000)] }, { rate }));
    expect(row(report, 'p99 at the steady rate within 1 ms of direct: apigate hono-node on UndiciTransport (undici, the default)')?.slice(3, 5)).toEqual(['0.800 ms', '**pass** (≤ 1 ms)']);
    expect(row(report, 'p99 at the steady rate within 1 ms of direct: apigate hono-node on NodeTransport (http-proxy-3, the reference)')?.slice(3, 5)).toEqual(['1.500 ms', '**FAIL** (> 1 ms)']);
    // The steady-rate row alone is an undici row too: the report says what the transport is.
    expect(report).toContain('that an adapter makes when given none');
    const section = report.slice(report.indexOf('## Latency at a steady moderate rate'));
    expect(row(section, 'apigate hono-node, undici transport')?.[5]).toBe('1.300');
  });

  it('reports CPU time per request of the workerd contestants and judges their target on req per CPU-s', () => {
    const cases = [tiny('direct'), tiny('apigate-hono-fetch-workerd'), tiny('hono-proxy-workerd')];
    // apigate serves more req/s (1.2×) but spends more CPU on each: 100 % of a core for 1 200 req/s
    // is 833.3 µs per request, against 50 % for 1 000 req/s, 500 µs. Per CPU-second: 0.6 ×.
    const report = render(
      input(
        {
          direct: [sample(40_000), sample(40_000), sample(40_000)],
          'apigate-hono-fetch-workerd': [sample(1200), sample(1200), sample(1200)],
          'hono-proxy-workerd': [sample(1000, { cpuPct: 50 }), sample(1000, { cpuPct: 50 }), sample(1000, { cpuPct: 50 })],
        },
        { cases },
      ),
    );
    const target = row(report, 'apigate hono (fetch transport) ≥ 1.0 × hono/proxy, in workerd');
    expect(target?.[3]).toBe('1.20');
    expect(target?.[4]).toBe('**FAIL** (< 1), on req per CPU-s');
    expect(target?.[5]).toBe('0.60');
    const section = report.slice(report.indexOf('## In workerd'));
    expect(row(section, 'label of apigate-hono-fetch-workerd')?.slice(1, 6)).toEqual(['label of apigate-hono-fetch-workerd', 'GET tiny JSON', '1 200', '833.3', '1 200']);
    expect(row(section, 'label of hono-proxy-workerd')?.slice(1, 6)).toEqual(['label of hono-proxy-workerd', 'GET tiny JSON', '1 000', '500.0', '2 000']);
    // A run without workerd cases has no such section.
    expect(render(input({ direct: [sample(1)], 'express-http-proxy-3': [sample(1)], 'apigate-express': [sample(1)] }))).not.toContain('## In workerd');
  });

  it('fails a target under its threshold', () => {
    const report = render(
      input({
        direct: [sample(100_000)],
        'express-http-proxy-3': [sample(1000)],
        'apigate-express': [sample(800)],
      }),
    );
    expect(row(report, 'apigate passthrough on express')?.[4]).toBe('**FAIL** (< 0.9)');
  });

  it('flags a contestant with errors or non-2xx answers and leaves it unranked, and its targets without a verdict', () => {
    const report = render(
      input({
        direct: [sample(100_000)],
        'express-http-proxy-3': [sample(1000)],
        'apigate-express': [sample(5000, { non2xx: 12 })],
      }),
    );
    const flagged = row(report, '⚠ label of apigate-express');
    expect(flagged?.[1]).toBe('–');
    expect(flagged?.at(-2)).toBe('12');
    expect(row(report, 'apigate passthrough on express')?.[4]).toBe('n/a (errors)');
    // The ranked rows are the others, fastest first.
    expect(row(report, 'label of direct')?.[1]).toBe('1');
    expect(row(report, 'label of express-http-proxy-3')?.[1]).toBe('2');
  });

  it('judges the upload against the limit, and leaves out what a partial run did not measure', () => {
    const samples = { direct: [sample(100_000)], 'express-http-proxy-3': [sample(1000)], 'apigate-express': [sample(1000)] };
    const full = render(input(samples));
    expect(row(full, 'RSS growth during a 512 MiB')?.[4]).toBe('**pass** (< 64 MiB)');
    expect(full).toContain('## Memory during a 512 MiB streamed upload');
    expect(row(render(input(samples, { uploads: [{ ...upload, growthMiB: 64.3 }] })), 'RSS growth')?.[4]).toBe('**FAIL** (≥ 64 MiB)');

    const partial = render(input(samples, { uploads: [] }));
    expect(partial).not.toContain('RSS growth');
    expect(partial).not.toContain('## Memory');
    expect(partial).not.toContain('## Latency at a fixed');
    // Only targets whose both sides ran.
    expect(partial).not.toContain('apigate koa on NodeTransport');
    expect(partial).not.toContain('UndiciTransport');
  });
});

describe('bench cases', () => {
  it('measures every workload against the origin reached directly, with case ids unique per workload', () => {
    for (const quick of [false, true]) {
      const cases = casesFor(quick);
      for (const workload of workloads) {
        const of = cases.filter((c) => c.workload === workload.id);
        expect(of.some((c) => c.contestant === 'direct')).toBe(true);
        expect(new Set(of.map((c) => c.id)).size).toBe(of.length);
      }
    }
  });

  it('runs every comparison it reports on cases that exist in a full run', () => {
    const cases = casesFor(false);
    for (const comparison of comparisons) {
      for (const id of [comparison.a, comparison.b]) expect(cases.some((c) => c.id === id && c.workload === comparison.workload)).toBe(true);
    }
  });

  it('sets the fast-gateway, hono/proxy and JSON-validated targets on both Node transports, each row naming its transport', () => {
    const undiciTargets = comparisons.filter((c) => c.target !== undefined && c.transport === 'undici');
    expect(undiciTargets.map((c) => `${c.workload} ${c.a} ≥ ${c.target} × ${c.b}`).sort()).toEqual(
      [
        'tiny apigate-koa-undici ≥ 1.1 × fast-gateway',
        'tiny apigate-hono-node-undici ≥ 1.1 × fast-gateway',
        'tiny apigate-express-fast-lane-undici ≥ 1.2 × fast-gateway',
        '64k apigate-koa-undici ≥ 1.1 × fast-gateway',
        '64k apigate-hono-node-undici ≥ 1.1 × fast-gateway',
        '64k apigate-express-fast-lane-undici ≥ 1.2 × fast-gateway',
        'tiny apigate-hono-node-undici ≥ 3 × hono-proxy',
        'json apigate-express-json-undici ≥ 1.5 × express-zod-hpm',
      ].sort(),
    );
    const cases = casesFor(false);
    const contestantOf = (id: string, workload: string): string => cases.find((c) => c.id === id && c.workload === workload)!.contestant;
    for (const u of undiciTargets) {
      expect(u.note).toContain(`on ${transportNames.undici}`);
      // Its twin: the same row on NodeTransport, the same threshold against the same reference.
      const twin = comparisons.filter((c) => c.transport === 'node' && c.note === u.note.replace(transportNames.undici, transportNames.node));
      expect(twin).toHaveLength(1);
      expect([twin[0]!.b, twin[0]!.workload, twin[0]!.target]).toEqual([u.b, u.workload, u.target]);
      // The undici side runs in a process of its own, made with UndiciTransport.
      expect(contestantOf(u.a, u.workload)).toBe(`${contestantOf(twin[0]!.a, twin[0]!.workload)}-undici`);
    }
    // Every target that names a transport is one of these pairs: no row says NodeTransport without an undici twin.
    expect(comparisons.filter((c) => c.transport === 'node')).toHaveLength(undiciTargets.length);
  });

  it('measures every steady-rate target contestant at the steady rate, on both transports', () => {
    for (const t of rateTargets) {
      expect(rateContestants(false)).toContain(t.id);
      expect(contestants.find((c) => c.id === t.id)?.entry).toBeDefined();
    }
    expect(rateTargets.filter((t) => t.transport === 'undici').map((t) => t.id)).toEqual(['apigate-express-undici', 'apigate-hono-node-undici']);
    expect(rateTargets.filter((t) => t.transport === 'node').map((t) => t.id)).toEqual(['apigate-express', 'apigate-hono-node']);
  });

  it('runs every passthrough contestant on the tiny workload', () => {
    const tinyIds = casesFor(true)
      .filter((c) => c.workload === 'tiny')
      .map((c) => c.contestant);
    for (const id of passthrough) expect(tinyIds).toContain(id);
  });
});
