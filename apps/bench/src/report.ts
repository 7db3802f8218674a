import { contestants, rateTargets, transportNames, type Case, type Comparison, type NodeTransportId, type Workload } from './cases.ts';
import type { CoreStalls } from './load.ts';
import { tinyJson } from './nginx.ts';
import { fixed, median, thousands } from './stats.ts';

/** One measured run of one case in one round. */
export interface Sample {
  rps: number;
  p50ms: number;
  p99ms: number;
  cpuPct: number;
  /** Busy time of the contestant's core not spent by the contestant nor in softirq, % of one core. */
  noisePct: number;
  /** The kernel's softirq time on the contestant's core (its loopback traffic, mostly), % of one core. */
  softirqPct?: number;
  rssMiB: number;
  errors: number;
  non2xx: number;
  /** Why the run could not be measured at all. */
  failure?: string;
}

export interface RateSample {
  id: string;
  label: string;
  rps: number;
  p50ms: number;
  p99ms: number;
  /** The open-loop generator's further percentiles; wrk and autocannon report only p50 and p99 here. */
  p90ms?: number;
  p999ms?: number;
  maxMs?: number;
  /** The most requests due at once while every connection was busy (open loop only). */
  queuedMax?: number;
  errors: number;
  non2xx: number;
  /** The contestant's CPU time, % of one core: how moderate the rate was for it. */
  cpuPct?: number;
  /** Other work on the contestant's core (not its threads, not softirq), % of one core. */
  noisePct?: number;
  /** Other work on the load core (not the origin, the generator, softirq), % of one core. */
  loadNoisePct?: number;
  /** How long the contestant's main thread was runnable but off the CPU, ms per second. */
  runQueueMsPerS?: number;
  /** CPU the contestant's threads other than the main one ran (V8's compiler and GC helpers), ms per second. */
  helperMsPerS?: number;
  /** Connections the contestant opened to the origin during the measured run. */
  upstreamConnects?: number;
  /** How many runs were made to get the kept one (the calmest). */
  attempts?: number;
  failure?: string;
}

/** What made the steady-rate load. */
export type RateGenerator = { kind: 'open-loop' } | { kind: 'wrk'; delayMs: number } | { kind: 'autocannon' };

export interface UploadResult {
  label: string;
  mebibytes: number;
  received: number | undefined;
  status: number | undefined;
  seconds: number;
  rssBeforeMiB: number;
  peakMiB: number;
  growthMiB: number;
  peakReset: boolean;
  failure?: string;
}

/** One ABBA block of a target's pair: (a₁ + a₂) / (b₁ + b₂), of req/s and of req per CPU-second. */
export interface PairedBlock {
  rps: number;
  perCpu: number;
}

export const pairKey = (c: Comparison): string => `${c.workload}:${c.a}/${c.b}`;

export interface ReportInput {
  command: string;
  date: string;
  quick: boolean;
  rounds: number;
  warmSeconds: number;
  /** Warm-up of a contestant's first case in a round (a fresh process), discarded. */
  firstWarmSeconds: number;
  seconds: number;
  machine: { cpu: string; cores: number; memoryGiB: number; kernel: string };
  versions: Record<string, string>;
  loadTool: string;
  pinning: boolean;
  /** DAMON monitors (`kdamonds/N`) turned off for the run and back on after it. */
  damonPaused?: readonly string[];
  /** Kernel threads (by name) moved from the contestant's core to the load core for the run. */
  kernelThreadsMoved?: readonly string[];
  workloads: readonly Workload[];
  cases: readonly Case[];
  samples: ReadonlyMap<string, Sample[]>;
  /** The targets' pairs measured back to back (ABBA blocks), by pairKey; empty when not run. */
  paired?: ReadonlyMap<string, readonly PairedBlock[]>;
  comparisons: readonly Comparison[];
  /** `busyPct`: a kept run with more other load than this on a core (% of it) gets no FAIL verdict. */
  /** `stalls`: the stall probe on each core (the contestant's first) before the runs; empty without a C compiler or taskset. */
  rate: { rps: number; seconds: number; warmSeconds: number; connections: number; generator: RateGenerator; busyPct: number; samples: readonly RateSample[]; stalls?: readonly CoreStalls[] };
  /** apigate express first (the target), then references. */
  uploads: readonly UploadResult[];
  uploadLimitMiB: number;
  durationSeconds: number;
  /** /proc/loadavg's first three fields when the run started. */
  loadAverage: string;
  /** Runs measured a second time because other work took more than noiseRetryPct of core 0. */
  retries: number;
  noiseRetryPct: number;
}

const key = (caseId: string, workload: string): string => `${workload}:${caseId}`;
export const sampleKey = key;

/** Whether a case had any error, non-2xx answer or failed run. */
const flagged = (samples: readonly Sample[]): boolean => samples.some((s) => s.failure !== undefined || s.errors > 0 || s.non2xx > 0);

/** Per-round ratios of a to b (same round), as a median. */
export const ratio = (input: Pick<ReportInput, 'samples'>, a: string, b: string, workload: string): number => {
  const as = input.samples.get(key(a, workload));
  const bs = input.samples.get(key(b, workload));
  if (as === undefined || bs === undefined) return Number.NaN;
  return median(as.map((s, round) => (s.failure === undefined && bs[round]?.failure === undefined ? s.rps / bs[round]!.rps : Number.NaN)));
};

/** Per-round ratios of requests per CPU-second of the contestant: robust to other load on the machine. */
export const cpuRatio = (input: Pick<ReportInput, 'samples'>, a: string, b: string, workload: string): number => {
  const as = input.samples.get(key(a, workload));
  const bs = input.samples.get(key(b, workload));
  if (as === undefined || bs === undefined) return Number.NaN;
  return median(as.map((s, round) => (s.failure === undefined && bs[round]?.failure === undefined ? s.rps / s.cpuPct / (bs[round]!.rps / bs[round]!.cpuPct) : Number.NaN)));
};

/** A markdown table; columns whose every cell is a number are right-aligned. */
const table = (header: readonly string[], rows: readonly (readonly string[])[]): string => {
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => /^[\d\s.–-]+( MiB)?$/.test(row[i] ?? '')));
  return [`| ${header.join(' | ')} |`, `| ${numeric.map((n) => (n ? '---:' : '---')).join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
};

const workloadTable = (input: ReportInput, workload: Workload): string => {
  const rows = input.cases
    .filter((c) => c.workload === workload.id)
    .map((c) => {
      const samples = input.samples.get(key(c.id, c.workload)) ?? [];
      const ok = samples.filter((s) => s.failure === undefined);
      return {
        c,
        bad: flagged(samples),
        failure: samples.find((s) => s.failure !== undefined)?.failure,
        ratio: c.contestant === 'direct' ? 1 : ratio(input, c.id, 'direct', c.workload),
        rps: median(ok.map((s) => s.rps)),
        p50: median(ok.map((s) => s.p50ms)),
        p99: median(ok.map((s) => s.p99ms)),
        cpu: median(ok.map((s) => s.cpuPct)),
        perCpu: median(ok.map((s) => s.rps / (s.cpuPct / 100))),
        noise: median(ok.map((s) => s.noisePct)),
        softirq: median(ok.map((s) => s.softirqPct ?? Number.NaN)),
        rss: median(ok.map((s) => s.rssMiB)),
        errors: samples.reduce((sum, s) => sum + s.errors, 0),
        non2xx: samples.reduce((sum, s) => sum + s.non2xx, 0),
      };
    });
  const ranked = rows.filter((r) => !r.bad).sort((x, y) => y.ratio - x.ratio);
  const unranked = rows.filter((r) => r.bad);
  const line = (r: (typeof rows)[number], rank: string): string[] => [
    rank,
    r.bad ? `⚠ ${r.c.label}${r.failure === undefined ? '' : ` (${r.failure})`}` : r.c.label,
    thousands(r.rps),
    fixed(r.ratio, r.ratio < 0.1 ? 3 : 2),
    fixed(r.p50, 2),
    fixed(r.p99, 2),
    fixed(r.cpu, 0),
    thousands(r.perCpu),
    fixed(r.noise, 0),
    fixed(r.softirq, 0),
    fixed(r.rss, 0),
    String(r.errors),
    String(r.non2xx),
  ];
  return table(
    ['#', 'contestant', 'req/s', '× direct', 'p50 ms', 'p99 ms', 'CPU %', 'req per CPU-s', 'other on core 0 %', 'softirq on core 0 %', 'RSS MiB', 'errors', 'non-2xx'],
    [...ranked.map((r, i) => line(r, String(i + 1))), ...unranked.map((r) => line(r, '–'))],
  );
};

const verdict = (value: number, target: number | undefined, bad: boolean): string => {
  if (target === undefined) return '';
  if (bad) return 'n/a (errors)';
  if (!Number.isFinite(value)) return 'n/a (not run)';
  return value >= target ? `**pass** (≥ ${target})` : `**FAIL** (< ${target})`;
};

/**
 * The workerd contestants' cases: CPU time per request, the figure Workers users compare, beside
 * req/s; undefined when none ran.
 */
const workerdSection = (input: ReportInput): string | undefined => {
  const cases = input.cases.filter((c) => contestants.find((x) => x.id === c.contestant)?.kind === 'workerd');
  if (cases.length === 0) return undefined;
  const rows = cases.map((c) => {
    const samples = input.samples.get(key(c.id, c.workload)) ?? [];
    const ok = samples.filter((s) => s.failure === undefined);
    const bad = flagged(samples);
    const failure = samples.find((s) => s.failure !== undefined)?.failure;
    const rps = median(ok.map((s) => s.rps));
    const perCpu = median(ok.map((s) => s.rps / (s.cpuPct / 100)));
    return [
      bad ? `⚠ ${c.label}${failure === undefined ? '' : ` (${failure})`}` : c.label,
      input.workloads.find((w) => w.id === c.workload)?.title ?? c.workload,
      thousands(rps),
      fixed(median(ok.map((s) => (s.cpuPct / 100 / s.rps) * 1e6)), 1),
      thousands(perCpu),
      fixed(median(ok.map((s) => s.cpuPct)), 0),
      fixed(median(ok.map((s) => s.rssMiB)), 0),
      String(samples.reduce((sum, s) => sum + s.errors, 0)),
      String(samples.reduce((sum, s) => sum + s.non2xx, 0)),
    ];
  });
  return [
    '## In workerd',
    '',
    "The same two Hono apps as `apigate hono (fetch transport)` and `hono-node + hono/proxy`, as Workers (apps/bench/src/workers/, bundled with esbuild for a neutral platform, minified, as for a deploy), each run by the `workerd` package's binary itself — `workerd serve` with a generated config: one Worker on a loopback socket, its `ORIGIN` binding the origin nginx, outbound fetch allowed to private addresses (workerd's default network reaches only public ones). No Miniflare: its Node parent and its entry Worker in front would be work of their own in the figures. The workerd process is pinned to core 0 like a Node contestant, started afresh every round, and loaded by the same generator on the same paths (`/api/*`, `/api` stripped). Outbound fetch from the Worker goes straight to 127.0.0.1 over workerd's own HTTP client.",
    '',
    '`CPU µs per request` is the workerd process’s utime+stime over the measured run (from `/proc/<pid>/stat`, all its threads) divided by the requests it served in that run, median over rounds; `req per CPU-s` is its inverse. It is the figure to compare: Workers bill and limit CPU time per request, and the wall-clock req/s of a 2-core loopback bench depends on what else ran. The kernel’s softirq time for the loopback traffic is not in it (see the tables above). Its target is judged on the req per CPU-s ratio.',
    '',
    table(['contestant', 'workload', 'req/s', 'CPU µs per request', 'req per CPU-s', 'CPU %', 'RSS MiB', 'errors', 'non-2xx'], rows),
  ].join('\n');
};

export const render = (input: ReportInput): string => {
  const out: string[] = [];
  const labelOf = (id: string): string => input.cases.find((c) => c.id === id)?.label ?? id;
  out.push('# Benchmarks', '');
  out.push(
    `Generated by \`${input.command}\` (apps/bench) on ${input.date}, in ${Math.round(input.durationSeconds)} s. Every number below was printed by that run; re-run the command to reproduce (\`pnpm bench --quick\` for a shorter, noisier pass; \`pnpm bench --profile <case>\`, e.g. \`apigate-express\`, CPU-profiles one case under load and prints its top self-time functions). This host's speed drifts while a run goes on; [instructions.md](instructions.md) has both sides of every throughput target counted in instructions per request under valgrind (\`pnpm bench --instructions targets\`), figures that other load does not move, without the kernel's share.`,
    '',
  );
  out.push('## Setup', '');
  out.push(`- Machine: ${input.machine.cpu}, ${input.machine.cores} cores, ${input.machine.memoryGiB} GiB RAM, ${input.machine.kernel}; loopback only.`);
  out.push(
    input.pinning
      ? '- Pinning (`taskset -c`): the contestant (proxy) on core 0; the load generator and the origin nginx (1 worker) on core 1.'
      : '- **`taskset` not found: nothing is pinned**; contestant, load generator and origin share the cores, so the numbers are less stable.',
  );
  if (input.damonPaused !== undefined && input.damonPaused.length > 0) {
    out.push(
      `- DAMON turned off for the run and back on after it: ${input.damonPaused.map((name) => `\`${name}\``).join(', ')} (the kernel's memory sampler: its kdamond thread holds the core it runs on for 1–4 ms two to three times a second, enough late requests on its own to move a p99 over 5 000; see [performance.md](performance.md)).`,
    );
  }
  if (input.kernelThreadsMoved !== undefined && input.kernelThreadsMoved.length > 0) {
    out.push(
      `- Kernel threads moved to the load core for the run: ${input.kernelThreadsMoved.map((name) => `\`${name}\``).join(', ')} (DAMON's memory sampler, left on: it holds whichever core it runs on for 1–4 ms two to three times a second, a stall only the contestant's core would otherwise meet; on the load core the generator and the origin meet it alike for every contestant and for direct; see [performance.md](performance.md)).`,
    );
  }
  out.push(`- Load: ${input.loadTool}, 1 thread; ${input.workloads.map((w) => `${w.title} with ${w.request.connections} connections`).join('; ')}.`);
  out.push(
    `- Rounds: ${input.rounds}, interleaved (every case once per round; the order is rotated by a share of the case list each round); every Node contestant is started afresh for each round, and its first case in a round gets ${input.firstWarmSeconds} s of warm-up (discarded), its later ones ${input.warmSeconds} s; each run then measures ${input.seconds} s.${input.quick ? ' Quick mode: fewer body-size cases, shorter runs.' : ''}`,
  );
  out.push(
    `- Origin: nginx with one worker on a generated config: \`/tiny\` (a ${Buffer.byteLength(tinyJson)}-byte JSON answer from memory), \`/64k\` (a static 64 KiB file), \`/orders\` (POST, a small JSON answer at once), \`/upload\` (POST: nginx reads the whole body into memory before answering, through a body-less proxy hop to itself). The sticky route has two backends: the same origin on two ports.`,
  );
  out.push(
    '- Each contestant is one process: nginx with one worker and a keep-alive upstream pool, or one Node entry in `apps/bench/src/contestants/` run with `node --conditions=@apigate/source` (the workspace TypeScript sources, type-stripped). Proxies serve `/api/*` and strip `/api`.',
  );
  out.push(
    '- Columns: req/s and `× direct` are medians over rounds (the ratio is taken within each round against the origin reached directly in that round); p50/p99 latency are medians of each run’s percentiles; CPU is the contestant’s utime+stime over the measured run (from `/proc/<pid>/stat`) in % of one core; RSS is VmRSS at the end of the run. A contestant with any socket error, timeout or non-2xx answer is marked ⚠ and not ranked.',
    '- `req per CPU-s` is req/s divided by the contestant’s CPU (in cores): the work per request, whatever else the machine did.',
    '- `other on core 0 %` is the busy time of core 0 during the measured run that was not the contestant’s nor the kernel’s softirq (from `/proc/stat`): other processes on the machine. High values mean that run was disturbed.',
    '- `softirq on core 0 %` is the kernel’s softirq time on core 0 during the run: on loopback mostly the network work of the contestant’s own traffic, which its utime+stime does not include.',
    '- The origin reached directly shares core 1 with the load generator, so `× direct` is the fraction of what one load core can get from nginx without a proxy.',
  );
  const noise = [...input.samples.values()].flat().filter((s) => s.failure === undefined && Number.isFinite(s.noisePct)).map((s) => s.noisePct);
  out.push(
    `- Disturbance: during the measured runs, other work took a median ${fixed(median(noise), 0)} % (max ${fixed(Math.max(...noise), 0)} %) of core 0; load average at the start ${input.loadAverage}. ${input.retries} run(s) where other work took more than ${input.noiseRetryPct} % of core 0 were measured a second time, keeping the calmer one.`,
  );
  out.push('', '### Versions', '');
  out.push(table(['component', 'version'], Object.entries(input.versions).map(([name, version]) => [name, version])));

  out.push('', '## Targets', '');
  const measured = (c: Comparison): boolean => input.samples.has(key(c.a, c.workload)) && input.samples.has(key(c.b, c.workload));
  const targets = input.comparisons.filter((c) => c.target !== undefined && measured(c));
  // Which of apigate's Node transports the rows shown are about: the prose under the table says what they are.
  const transports = new Set<NodeTransportId>(targets.flatMap((c) => (c.transport === undefined ? [] : [c.transport])));
  const targetRows = targets
    .map((c) => {
      const bad = flagged(input.samples.get(key(c.a, c.workload)) ?? []) || flagged(input.samples.get(key(c.b, c.workload)) ?? []);
      const value = ratio(input, c.a, c.b, c.workload);
      const perCpu = cpuRatio(input, c.a, c.b, c.workload);
      const blocks = input.paired?.get(pairKey(c)) ?? [];
      const pairedRps = median(blocks.map((b) => b.rps));
      const pairedCpu = median(blocks.map((b) => b.perCpu));
      // The paired runs, when there are any, are the measurement made for the target.
      const judged = c.judge === 'perCpu' ? (Number.isFinite(pairedCpu) ? pairedCpu : perCpu) : Number.isFinite(pairedRps) ? pairedRps : value;
      const judgedVerdict = verdict(judged, c.target, bad);
      return [c.note, `${labelOf(c.a)} / ${labelOf(c.b)}`, fixed(value, 2), c.judge === 'perCpu' && judgedVerdict.startsWith('**') ? `${judgedVerdict}, on req per CPU-s` : judgedVerdict, fixed(perCpu, 2), blocks.length === 0 ? '' : `${fixed(pairedRps, 2)} (${blocks.map((b) => fixed(b.rps, 2)).join(', ')})`, fixed(pairedCpu, 2)];
    });
  const upload = input.uploads[0];
  if (upload !== undefined) {
    targetRows.push([
      `RSS growth during a ${upload.mebibytes} MiB streamed upload through ${upload.label} < ${input.uploadLimitMiB} MiB`,
      'peak VmHWM − VmRSS before',
      upload.failure === undefined ? `${fixed(upload.growthMiB, 1)} MiB` : '–',
      upload.failure !== undefined ? `n/a (${upload.failure})` : upload.growthMiB < input.uploadLimitMiB ? `**pass** (< ${input.uploadLimitMiB} MiB)` : `**FAIL** (≥ ${input.uploadLimitMiB} MiB)`,
      '',
      '',
      '',
    ]);
  }
  const steady = (id: string): RateSample | undefined => input.rate.samples.find((sample) => sample.id === id && sample.failure === undefined);
  const direct = steady('direct');
  // autocannon's bursts are no steady rate: no verdict on them.
  if (input.rate.generator.kind !== 'autocannon' && direct !== undefined) {
    for (const { id, subject, transport } of rateTargets) {
      const sample = steady(id);
      if (sample === undefined) continue;
      transports.add(transport);
      const added = sample.p99ms - direct.p99ms;
      const bad = sample.errors > 0 || sample.non2xx > 0;
      // Other work on a shared core can only add latency: a pass stands, a miss in a busy run is no verdict.
      const busiest = Math.max(...[sample.noisePct, sample.loadNoisePct, direct.loadNoisePct].map((pct) => (pct !== undefined && Number.isFinite(pct) ? pct : 0)));
      const verdict = bad ? 'n/a (errors)' : added <= 1 ? '**pass** (≤ 1 ms)' : busiest > input.rate.busyPct ? `n/a (> 1 ms, but the machine was busy: ${fixed(busiest, 0)} % other load on a core)` : '**FAIL** (> 1 ms)';
      targetRows.push([`p99 at the steady rate within 1 ms of direct: ${subject} on ${transportNames[transport]}`, `p99 ${fixed(sample.p99ms, 3)} ms − direct ${fixed(direct.p99ms, 3)} ms${sample.noisePct === undefined ? '' : ` (other load in the kept run: ${fixed(sample.noisePct, 0)} % of core 0, ${fixed(sample.loadNoisePct ?? Number.NaN, 0)} % of the load core)`}`, `${fixed(added, 3)} ms`, verdict, '', '', '']);
    }
  }
  out.push(table(['target', 'ratio of', 'req/s ratio (median of rounds)', 'verdict', 'req per CPU-s ratio (median of rounds)', 'paired req/s ratio (median of ABBA blocks)', 'paired req per CPU-s ratio'], targetRows));
  out.push(
    '',
    `Throughput targets use the ${input.workloads.find((w) => w.id === 'tiny')!.title} workload (64 KiB where the row says so, the JSON one for validation), ratios taken within each round. The verdict is on req/s (on req per CPU-s where it says so: the workerd targets, see “In workerd” below): on the paired runs when they were made, else on the rounds. Every target gets paired runs (none with \`--pairs 0\`), which measure the two sides of each target back to back in ABBA blocks (a, b, b, a; each run after 1 s of warm-up) and take (a₁ + a₂) / (b₁ + b₂) per block, so that a drift of the host's speed during a block cancels; the rounds compare runs minutes apart, which on a shared host can differ by more than the effect measured. The per CPU-second columns divide each side by its own CPU time (requests per CPU-second of the contestant), which other load on the machine disturbs much less: where the two disagree, the machine was busy.`,
  );
  if (transports.has('undici')) {
    out.push(
      '',
      `Rows that say “on ${transportNames.undici}” are about the transport on undici's dispatcher that an adapter makes when given none (\`UndiciTransport\` from \`@apigate/proxy/node\`; docs/proxy.md, “Choosing the Node transport”), each measured by a contestant of its own; rows that say “on ${transportNames.node}”, and the other apigate rows on Node that name no transport, are about NodeTransport on http-proxy-3, the reference, passed as the adapter's \`transport\` option.`,
    );
  }

  for (const workload of input.workloads) {
    if (!input.cases.some((c) => c.workload === workload.id)) continue;
    out.push('', `## ${workload.title}`, '', workloadTable(input, workload));
  }

  const edge = workerdSection(input);
  if (edge !== undefined) out.push('', edge);

  out.push('', '## Other ratios', '');
  out.push(
    table(
      ['comparison', 'workload', 'req/s ratio (median)', 'req per CPU-s ratio (median)'],
      input.comparisons
        .filter((c) => c.target === undefined && measured(c))
        .map((c) => [c.note, c.workload, fixed(ratio(input, c.a, c.b, c.workload), 2), fixed(cpuRatio(input, c.a, c.b, c.workload), 2)]),
    ),
  );

  if (input.rate.samples.length > 0) {
    const generator = input.rate.generator;
    const { rps, seconds, warmSeconds, connections } = input.rate;
    const calm = `Each contestant is measured up to three times and the calmest run kept (the least other work on its core and on the load core, where the origin runs); the columns after the latencies say how calm the kept run was and how moderate the rate was for the contestant. Other load can only add latency: a p99 target missed in a kept run with more than ${input.rate.busyPct} % other load on either core gets no verdict, where a pass stands.`;
    out.push('', generator.kind === 'autocannon' ? `## Latency at a fixed ${thousands(rps)} req/s` : '## Latency at a steady moderate rate', '');
    out.push(
      generator.kind === 'open-loop'
        ? `An open-loop generator (apps/bench/src/tools/openloop.c, pinned to the load core): ${thousands(rps)} requests a second due at even intervals whatever the contestant does, on ${connections} keep-alive connections (a request due while every connection is busy waits for one), latency from the moment each request was due, in microseconds; ${seconds} s after ${warmSeconds} s of warm-up at the same rate, GET tiny JSON, once per contestant after the throughput rounds. A stall therefore shows as every request due during it arriving late, which a closed loop hides by sending fewer. The warm-up is long because a Node process keeps compiling code to faster tiers for its first seconds at a new rate, on V8's helper threads, which share the pinned core and take it from the main thread while they run; the helper-threads column says how much of that work, and of V8's GC helpers', was left in the kept run, and the run-queue column how long the main thread waited for its core. ${calm}`
        : generator.kind === 'wrk'
          ? `wrk (pinned to the load core), ${connections} connections, each waiting a random 0–${2 * generator.delayMs} ms between a response and its next request (wrk's \`delay()\`, so that the connections do not fire in lockstep: a paced closed loop, not an open-loop generator, so a slow response delays the next request of its connection rather than queueing it; no C compiler was found for the open-loop one), ${seconds} s after ${warmSeconds} s of warm-up, GET tiny JSON; once per contestant after the throughput rounds. wrk records latency in microseconds. ${calm}`
          : `autocannon with \`overallRate\` (from a child process pinned to the load core), ${connections} connections, ${seconds} s, GET tiny JSON; once per contestant after the throughput rounds. autocannon records latency in whole milliseconds and fires each second's quota in a burst, so these are not steady-rate latencies (wrk was not found).`,
      '',
    );
    const stalls = input.rate.stalls ?? [];
    if (stalls.length > 0) {
      const core = (probe: CoreStalls): string =>
        `${probe.core === stalls[0]!.core ? `core ${probe.core} (the contestant's)` : `core ${probe.core} (the load core)`} ${probe.stalls} (${probe.over2ms} over 2 ms; ${fixed(probe.lostMs, 1)} ms lost, the longest ${fixed(probe.longestMs, 1)} ms)`;
      out.push(
        `How often each core was taken away, just before these runs, with every contestant started and idle: a probe pinned to the core (apps/bench/src/tools/stalls.c) slept 100 µs at a time for ${fixed(stalls[0]!.seconds, 0)} s and counted the wake-ups more than ${stalls[0]!.thresholdMs} ms late: ${stalls.map(core).join('; ')}. A request in flight on a core when it is taken away waits as long, whatever the contestant does; a p99 over ${thousands(rps * seconds)} requests takes ${thousands(Math.round((rps * seconds) / 100))} late ones to move.`,
        '',
      );
    }
    const digits = generator.kind === 'autocannon' ? 0 : 3;
    const pct = (value: number | undefined): string => (value === undefined ? '–' : fixed(value, 0));
    out.push(
      table(
        ['contestant', 'achieved req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'CPU %', 'other on core 0 %', 'other on load core %', 'run-queue wait ms/s', 'helper threads ms/s', 'upstream connects', 'runs', 'errors', 'non-2xx'],
        input.rate.samples.map((s) => [
          s.failure === undefined ? s.label : `⚠ ${s.label} (${s.failure})`,
          thousands(s.rps),
          fixed(s.p50ms, digits),
          s.p90ms === undefined ? '–' : fixed(s.p90ms, digits),
          fixed(s.p99ms, digits),
          s.p999ms === undefined ? '–' : fixed(s.p999ms, digits),
          s.maxMs === undefined ? '–' : fixed(s.maxMs, digits),
          pct(s.cpuPct),
          pct(s.noisePct),
          pct(s.loadNoisePct),
          s.runQueueMsPerS === undefined ? '–' : fixed(s.runQueueMsPerS, 1),
          s.helperMsPerS === undefined ? '–' : fixed(s.helperMsPerS, 1),
          s.upstreamConnects === undefined ? '–' : fixed(s.upstreamConnects, 0),
          s.attempts === undefined ? '–' : String(s.attempts),
          String(s.errors),
          String(s.non2xx),
        ]),
      ),
    );
  }

  if (upload !== undefined) {
    out.push('', `## Memory during a ${upload.mebibytes} MiB streamed upload`, '');
    out.push(
      `A fresh contestant process (core 0) forwards one chunked ${upload.mebibytes} MiB POST (64 KiB writes with backpressure) to a Node origin that counts the bytes. Growth is the peak VmHWM during the upload minus VmRSS before it${upload.peakReset ? ' (the peak was reset through /proc/<pid>/clear_refs first)' : ' (VmHWM could not be reset, so the peak includes start-up)'}. express 5 + bare http-proxy-3 is measured the same way as a reference for what Node's own streaming costs. Each body chunk reaches JavaScript as a Buffer of its own, whose memory, outside V8's heap, is freed only when V8 collects the Buffer; during a long upload V8 scavenges little (the Buffers' objects are small) and returns that memory at full collections started by its own limits, letting some 64 MiB of it build up between them (docs/performance.md): most of the growth is that, not data the proxy holds. The rows with a \`node --max-semi-space-size\` flag are the same runs with a small new space, in which V8 collects more often (the target is judged on Node's defaults).`,
      '',
    );
    out.push(
      table(
        ['contestant', 'status', 'bytes the origin received', 'seconds', 'RSS before MiB', 'peak MiB', 'growth MiB'],
        input.uploads.map((u) => [u.label, u.failure ?? String(u.status), u.received === undefined ? '–' : String(u.received), fixed(u.seconds, 2), fixed(u.rssBeforeMiB, 1), fixed(u.peakMiB, 1), fixed(u.growthMiB, 1)]),
      ),
    );
  }
  out.push('');
  return out.join('\n');
};
