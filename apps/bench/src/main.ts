// pnpm bench [--quick]: apigate against the upstream reached directly and against what users would
// pick instead. Prints a markdown report and writes it to docs/benchmarks.md.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeBenchJwt } from './bench-jwt.ts';
import { casesFor, comparisons, contestants, rateContestants, workloads, type Case, type Contestant, type Workload } from './cases.ts';
import { buildTool, runAutocannon, runOpenLoop, runStalls, runWrk, type CoreStalls, type LoadResult, type OpenLoopResult, type RequestSpec } from './load.ts';
import { nginxBinary, nginxVersion, originAccepts, originConfig, proxyConfig } from './nginx.ts';
import { childPids, coreTicks, cores, cpuTicks, firstJsonLine, helperThreadsNs, killAllNow, moveKernelThreads, pauseDamon, pinning, resetPeak, run, runQueueNs, srcDir, startNode, startPinned, statusKiB, stderrOf, stopAll, stop } from './processes.ts';
import { summarizeProfiles } from './profile.ts';
import { pairKey, render, sampleKey, type PairedBlock, type RateSample, type ReportInput, type Sample, type UploadResult } from './report.ts';
import { clockTicks, freePort, hasCommand, installTools, machine, output } from './system.ts';
import { callgrindArgs, countInstructions, renderInstructions, type CountedCase } from './instructions.ts';
import { profileWorker } from './workerd-profile.ts';
import { bundleName, bundleWorker, workerdBinary, workerdVersion, writeWorkerdConfig } from './workerd.ts';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(
    [
      'usage: pnpm bench [--quick]                      run the benchmarks, write docs/benchmarks.md',
      '       pnpm bench [--only <case,...>] [--workloads <tiny,json,64k,post1m>] [--rounds N] [--seconds N] [--pairs N]',
      '                                                 only those cases (ids as in --profile) and workloads, with the origin reached directly, and with tiny the',
      '                                                 steady-rate latency of those of them measured there (cases.ts rateContestants); prints the report, writes nothing',
      '       pnpm bench --profile <case> [--seconds N]  CPU-profile one case under load (e.g. apigate-express, apigate-express-json) and print its top self-time functions',
      '       pnpm bench --upload                        only the memory test of a 512 MiB streamed upload; prints its rows, writes nothing',
      '       pnpm bench --instructions <case,...|targets> [--workloads …] [--requests N] [--warm N]',
      '                                                 instructions per request under valgrind (callgrind): repeatable on a busy host; `targets` counts both',
      '                                                 sides of every throughput target and writes docs/instructions.md, case ids print only',
      '                                                 (KEEP_CALLGRIND=1 keeps the callgrind files, for callgrind_annotate; their directory is printed)',
      '       … --trace-v8                               runs the Node contestants with --trace-opt --trace-gc and logs, for every steady-rate run, the',
      '                                                 optimizing compiles and collections V8 made in it (what the helper-threads column ran); slows them a little',
    ].join('\n'),
  );
  process.exit(0);
}
const quick = args.includes('--quick');
const optionValue = (name: string): string | undefined => {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args[index + 1];
};
const profileCase = optionValue('--profile');
const uploadOnly = args.includes('--upload');
const traceV8 = args.includes('--trace-v8');
const instructionsArg = optionValue('--instructions');
const only = optionValue('--only')?.split(',').filter((id) => id !== '');
const onlyWorkloads = optionValue('--workloads')?.split(',').filter((id) => id !== '');
const numberOption = (name: string): number | undefined => {
  const value = optionValue(name);
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`${name} takes a positive number, not ${value}`);
  return parsed;
};
const settings = quick
  ? { rounds: 2, warmSeconds: 1, seconds: 2, rateSeconds: 3, uploadMiB: 512, noiseRetryPct: 30, pairs: 1 }
  : { rounds: 5, warmSeconds: 2, seconds: 3, rateSeconds: 5, uploadMiB: 512, noiseRetryPct: 30, pairs: 3 };
settings.rounds = numberOption('--rounds') ?? settings.rounds;
settings.seconds = numberOption('--seconds') ?? settings.seconds;
// 0 is allowed: no paired runs.
settings.pairs = optionValue('--pairs') === '0' ? 0 : (numberOption('--pairs') ?? settings.pairs);
/**
 * A fresh process runs its first seconds unoptimized: the first case of each contestant in a round
 * (every Node contestant is started afresh per round) gets this much warm-up instead of warmSeconds.
 */
const firstWarmSeconds = 3;
/**
 * The steady rate for latency: 1 000 requests a second due at even intervals, on 20 keep-alive
 * connections, from the open-loop generator in tools/openloop.c (latency from when each request was
 * due, in microseconds). Moderate for every contestant: a quarter or less of a core for most Node
 * proxies, about 60 % for hono/proxy, the slowest (req per CPU-s in the tiny table). Without a C
 * compiler, wrk with a random per-connection delay of mean `delayMs` (a paced closed loop); without
 * wrk, autocannon's overallRate, which fires each second's quota in a burst.
 * Each run is warmed 20 s at that rate: a Node process given a new load keeps tiering code up for
 * its first seconds (apigate hono-node, fresh: 159–207 optimizing compiles in a 5 s window in its
 * first 12 s at the rate, 9–16 after), on V8's helper threads, which share the pinned core and took
 * it from the main thread for 134–168 ms of those 5 s; that tail is start-up, not the steady rate.
 * After the throughput rounds it is the same: apigate hono-node on undici compiled 31 and 46 times
 * in its first two 5 s windows at the rate (p99 2.0 and 1.4 ms), 2 and 0 times in the next two
 * (p99 0.47 and 0.41 ms), so 10 s of warm-up left the measured window on the edge of it.
 * Before the runs, tools/stalls.c sleeps 100 µs at a time on each core for `stallSeconds` and counts
 * the wake-ups more than `stallThresholdMs` late: how often the core is taken from whatever runs on
 * it (kernel threads, the VM's host), reported beside the tails (see pauseDamon).
 */
const rate = { rps: 1000, connections: 20, delayMs: 20, warmSeconds: 20, attempts: 3, calmPct: 5, busyPct: 10, stallSeconds: 5, stallThresholdMs: 0.5 };
const uploadLimitMiB = 64;
/** The semi-space of the upload test's second pair of runs, in MiB (V8's own default is set from the heap limit). */
const uploadSemiSpaceMiB = 2;

const benchDir = resolve(srcDir, '..');
const repoDir = resolve(benchDir, '../..');
const docsFile = join(repoDir, 'docs/benchmarks.md');
const instructionsFile = join(repoDir, 'docs/instructions.md');
const log = (message: string): void => {
  process.stderr.write(`bench: ${message}\n`);
};

// ---- tools ---------------------------------------------------------------------------------

let nginx = nginxBinary();
let useWrk = hasCommand('wrk');
// The Redis-store rate-limit contestant starts a redis-server of its own.
const redis = hasCommand('redis-server');
if (nginx === undefined || !useWrk || !redis) {
  const missing = [...(nginx === undefined ? ['nginx'] : []), ...(useWrk ? [] : ['wrk']), ...(redis ? [] : ['redis-server'])];
  if (installTools(missing)) {
    nginx = nginxBinary();
    useWrk = hasCommand('wrk');
  }
}
if (nginx === undefined) {
  console.error(
    'bench: nginx is needed (it is the origin and a contestant) and was not found. Install it (Debian/Ubuntu: `sudo apt-get install -y nginx wrk`) and re-run; run as root with apt-get available and the harness installs it itself.',
  );
  process.exit(1);
}
const loadTool = useWrk ? `wrk (${output('wrk', ['-v'])?.split('\n')[0] ?? 'unknown version'})` : 'autocannon 8 (wrk not found; install wrk for lower load-generator overhead)';
if (!useWrk) log('wrk not found: using autocannon for the throughput runs');
if (!pinning) log('taskset not found: processes are NOT pinned to cores; numbers will be noisier');

// ---- cleanup on every way out ----------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'apigate-bench-'));
// nginx workers run as an unprivileged user when started as root: they must read the 64 KiB file.
chmodSync(dir, 0o755);
const openLoop = buildTool(dir, 'openloop');
const stallProbe = buildTool(dir, 'stalls');
if (openLoop === undefined) log('no C compiler (cc): the steady-rate latency falls back to wrk with a random per-connection delay');
const extraPids = new Set<number>();
// The kernel's memory sampler off for the whole run (see pauseDamon), or else off the contestant's core.
const damon = pauseDamon();
if (damon.paused.length > 0) log(`DAMON turned off for the run: ${damon.paused.join(', ')} (turned back on at the end)`);
const kernelThreads = moveKernelThreads(cores.load);
if (kernelThreads.moved.length > 0) log(`moved to the load core for the run: ${kernelThreads.moved.map((t) => `${t.comm} (pid ${t.pid}, mask was ${t.mask})`).join('; ')}`);
if (kernelThreads.skipped !== undefined) log(`kernel threads: ${kernelThreads.skipped}`);
let cleaned = false;
const cleanup = async (): Promise<void> => {
  if (cleaned) return;
  cleaned = true;
  kernelThreads.restore();
  damon.restore();
  await stopAll();
  for (const pid of extraPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', () => {
  killAllNow();
  if (!cleaned) kernelThreads.restore();
  if (!cleaned) damon.restore();
  if (!cleaned) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping every child process`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---- processes -------------------------------------------------------------------------------

interface Running {
  url: string;
  /** The processes whose CPU and memory count: a Node process, or nginx's workers. */
  pids: number[];
  child: ChildProcess;
  /** With --trace-v8: the file a Node contestant's V8 trace lines go to. */
  v8Log?: string;
}

const waitForHttp = async (url: string, what: string, child: ChildProcess, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}): ${stderrOf(child)}`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`${what} did not answer on ${url}: ${stderrOf(child)}`);
};

const startNginx = async (name: string, core: string, config: string, probe: string): Promise<ChildProcess> => {
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, config);
  const child = startPinned(core, nginx, ['-p', dir, '-c', file, '-e', join(dir, `${name}-error.log`)]);
  await waitForHttp(probe, `nginx (${name})`, child);
  for (const pid of childPids(child.pid!)) extraPids.add(pid);
  return child;
};

const startContestant = async (entry: string, env: NodeJS.ProcessEnv, nodeFlags: readonly string[] = []): Promise<Running> => {
  const child = startNode(cores.contestant, entry, [], env, traceV8 ? [...nodeFlags, '--trace-opt', '--trace-gc'] : nodeFlags);
  // V8 prints its trace lines to stdout, before the port line too: skip them, then keep draining.
  const { port } = await firstJsonLine<{ port: number }>(child, entry, 60_000, traceV8);
  const running: Running = { url: `http://127.0.0.1:${port}`, pids: [child.pid!], child };
  if (traceV8) {
    running.v8Log = join(dir, `${basename(entry, '.ts')}-${child.pid}.v8.log`);
    child.stdout!.pipe(createWriteStream(running.v8Log));
  }
  return running;
};

/**
 * The workerd binary itself (no Miniflare: no Node parent, no entry Worker in front), pinned like a
 * Node contestant, serving one Worker bundled beforehand into the run's dir: the process measured
 * is the one that runs the Worker and its fetch.
 */
const startWorkerd = async (worker: string, origin: string, flags: readonly string[] = []): Promise<Running> => {
  const port = await freePort();
  const config = writeWorkerdConfig({ dir, id: worker, port, origin });
  const child = startPinned(cores.contestant, workerdBinary, ['serve', ...flags, config]);
  const url = `http://127.0.0.1:${port}`;
  // A minute, as a Node contestant gets: the probe goes through the Worker to the origin.
  await waitForHttp(`${url}/api/tiny`, `workerd (${worker})`, child, 60_000);
  return { url, pids: [child.pid!], child };
};

const fraction = (ticks: number, seconds: number): number => (ticks / clockTicks() / seconds) * 100;

const load = (url: string, request: RequestSpec, seconds: number): Promise<LoadResult> => (useWrk ? runWrk(dir, url, request, seconds) : runAutocannon(url, request, seconds));

const started = Date.now();

/** The run's RS256 key and token, for the JWT-verified case: made once, before any contestant starts. */
const benchJwt = await makeBenchJwt();

const requestOf = (c: Case): RequestSpec => {
  const base = workloads.find((w) => w.id === c.workload)!.request;
  return { ...base, path: c.path, ...(c.tenants === true ? { tenants: true } : {}), ...(c.jwt === true ? { headers: { authorization: `Bearer ${benchJwt.token}` } } : {}) };
};

/** --profile: one case under load with `node --cpu-prof`; prints the top self-time functions. */
const profile = async (caseId: string, cases: readonly Case[], env: NodeJS.ProcessEnv): Promise<void> => {
  const c = cases.find((candidate) => candidate.id === caseId);
  const contestant = contestants.find((candidate) => candidate.id === c?.contestant);
  if (c === undefined || (contestant?.entry === undefined && contestant?.worker === undefined)) throw new Error(`--profile takes the id of a Node or workerd case: ${cases.filter((x) => x.contestant !== 'direct' && x.contestant !== 'nginx').map((x) => x.id).join(', ')}`);
  const seconds = Number(optionValue('--seconds') ?? 10);
  // Outside the run's temp dir, so the .cpuprofile files survive for DevTools.
  const profileDir = mkdtempSync(join(tmpdir(), `apigate-profile-${caseId}-`));
  let result: LoadResult;
  if (contestant.worker !== undefined) {
    // workerd: V8's profiler through its inspector, on an unminified bundle.
    const bundle = join(dir, bundleName(contestant.worker));
    await bundleWorker(contestant.worker, bundle, { minify: false });
    const inspector = await freePort();
    const target = await startWorkerd(contestant.worker, env.ORIGIN!, [`--inspector-addr=127.0.0.1:${inspector}`]);
    const url = `${target.url}${c.path}`;
    await load(url, requestOf(c), 2);
    let measured: LoadResult | undefined;
    const profiled = await profileWorker({ inspector: `http://127.0.0.1:${inspector}`, bundle, load: async () => void (measured = await load(url, requestOf(c), seconds)) });
    writeFileSync(join(profileDir, `${caseId}.cpuprofile`), JSON.stringify(profiled));
    await stop(target.child);
    result = measured!;
  } else {
    const target = await startContestant(contestant.entry!, env, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]);
    const url = `${target.url}${c.path}`;
    await load(url, requestOf(c), 2);
    result = await load(url, requestOf(c), seconds);
    await stop(target.child, 15_000);
  }
  process.stdout.write(
    `# CPU profile: ${c.label}, ${c.workload}, ${seconds} s of load (plus 2 s warm-up in the profile)\n\n${Math.round(result.rps)} req/s, p99 ${result.p99ms.toFixed(2)} ms, errors ${result.errors}, non-2xx ${result.non2xx}\n\n${summarizeProfiles(profileDir)}\n\nProfiles (open in Chrome DevTools): ${profileDir}\n`,
  );
};

/**
 * --instructions: each case's contestant alone under callgrind (instructions.ts), one at a time;
 * `targets` counts both sides of every throughput target (cases.ts) and writes docs/instructions.md.
 */
const instructions = async (arg: string, cases: readonly Case[], env: NodeJS.ProcessEnv): Promise<void> => {
  if (!hasCommand('valgrind') && !installTools(['valgrind'])) throw new Error('--instructions needs valgrind (Debian: apt-get install -y valgrind)');
  const targets = comparisons.filter((t) => t.target !== undefined && (onlyWorkloads === undefined || onlyWorkloads.includes(t.workload)));
  const wanted =
    arg === 'targets'
      ? [...new Map(targets.flatMap((t) => [t.a, t.b].map((id) => [`${id}/${t.workload}`, cases.find((c) => c.id === id && c.workload === t.workload)] as const))).values()].filter((c): c is Case => c !== undefined)
      : arg.split(',').flatMap((id) => cases.filter((c) => c.id === id && (onlyWorkloads === undefined || onlyWorkloads.includes(c.workload))));
  const runnable = wanted.filter((c) => {
    const contestant = contestants.find((x) => x.id === c.contestant);
    return contestant?.entry !== undefined || contestant?.worker !== undefined;
  });
  if (runnable.length === 0) throw new Error(`--instructions takes \`targets\` or ids of Node or workerd cases: ${[...new Set(cases.filter((x) => x.contestant !== 'direct' && x.contestant !== 'nginx').map((x) => x.id))].join(', ')}`);
  const count = numberOption('--requests') ?? 2000;
  // Measured here: a Node contestant's JS-thread count fell by a fifth between 3 000 and 20 000
  // uncounted requests (V8 tiers up on work done, and valgrind's pace leaves its compiler behind)
  // and its compiler threads were still busy after 10 000; workerd's count was the same after 1 000.
  const warmOf = (kind: Contestant['kind']): number => numberOption('--warm') ?? (kind === 'workerd' ? 2000 : 20_000);
  const began = Date.now();
  const counted: CountedCase[] = [];
  for (const c of runnable) {
    const contestant = contestants.find((x) => x.id === c.contestant)!;
    const start = async (outFile: string): Promise<{ url: string; child: ChildProcess }> => {
      if (contestant.worker !== undefined) {
        await bundleWorker(contestant.worker, join(dir, bundleName(contestant.worker)));
        const port = await freePort();
        const config = writeWorkerdConfig({ dir, id: contestant.worker, port, origin: env.ORIGIN! });
        return { url: `http://127.0.0.1:${port}`, child: startPinned(cores.contestant, 'valgrind', callgrindArgs(outFile, workerdBinary, ['serve', config])) };
      }
      const child = startPinned(cores.contestant, 'valgrind', callgrindArgs(outFile, process.execPath, ['--conditions=@apigate/source', join(srcDir, contestant.entry!)]), env);
      const { port } = await firstJsonLine<{ port: number }>(child, `${contestant.entry} under valgrind`, 180_000);
      return { url: `http://127.0.0.1:${port}`, child };
    };
    const warm = warmOf(contestant.kind);
    const result = await countInstructions({ start, spec: requestOf(c), path: c.path, warm, count });
    log(`${c.id} (${c.workload}): ${(result.main / 1000).toFixed(1)} k instructions per request on the JS thread, ${(result.all / 1000).toFixed(1)} k in all`);
    counted.push({ id: c.id, workload: c.workload, label: c.label, warm, count: result });
  }
  const report = renderInstructions({
    command: `pnpm bench --instructions ${arg}${onlyWorkloads === undefined ? '' : ` --workloads ${onlyWorkloads.join(',')}`}${numberOption('--requests') === undefined ? '' : ` --requests ${count}`}${numberOption('--warm') === undefined ? '' : ` --warm ${numberOption('--warm')}`}`,
    date: new Date().toISOString().slice(0, 10),
    durationSeconds: (Date.now() - began) / 1000,
    versions: `Node ${process.version}, workerd ${workerdVersion}, ${output('valgrind', ['--version']) ?? 'valgrind'}`,
    count,
    cases: counted,
    targets: arg === 'targets' ? targets.map((t) => ({ note: t.note, a: t.a, b: t.b, workload: t.workload, target: t.target! })) : [],
  });
  process.stdout.write(report);
  if (arg === 'targets' && onlyWorkloads === undefined) {
    writeFileSync(instructionsFile, report);
    log(`wrote ${instructionsFile}`);
  }
};

const main = async (): Promise<void> => {
  if (uploadOnly) {
    await uploadTests();
    return;
  }
  const info = machine();
  const loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const allCases = casesFor(quick);
  const unknown = only?.filter((id) => !allCases.some((c) => c.id === id)) ?? [];
  if (unknown.length > 0) throw new Error(`--only: no case ${unknown.join(', ')}; cases: ${[...new Set(allCases.map((c) => c.id))].join(', ')}`);
  // --only keeps the origin reached directly in every workload it touches: ratios are taken against it.
  const picked = (c: Case): boolean => (only === undefined || only.includes(c.id)) && (onlyWorkloads === undefined || onlyWorkloads.includes(c.workload));
  const cases = only === undefined && onlyWorkloads === undefined ? allCases : allCases.filter((c) => picked(c) || (c.contestant === 'direct' && allCases.some((o) => o.workload === c.workload && picked(o))));
  const needed = new Set(cases.map((c) => c.contestant));

  // The origin: nginx, one worker, on the load core.
  const originPorts = [await freePort(), await freePort()] as const;
  const origin = `http://127.0.0.1:${originPorts[0]}`;
  const originB = `http://127.0.0.1:${originPorts[1]}`;
  const originChild = await startNginx('origin', cores.load, originConfig(dir, originPorts), `${origin}/tiny`);
  if (profileCase !== undefined) return profile(profileCase, cases, { ORIGIN: origin, ORIGIN_B: originB, BENCH_JWKS: JSON.stringify(benchJwt.jwks), NODE_ENV: 'production' });
  if (instructionsArg !== undefined) return instructions(instructionsArg, cases, { ORIGIN: origin, ORIGIN_B: originB, BENCH_JWKS: JSON.stringify(benchJwt.jwks), NODE_ENV: 'production' });
  const running = new Map<string, Running>();
  running.set('direct', { url: origin, pids: childPids(originChild.pid!), child: originChild });
  log(`origin nginx on ${origin} and ${originB}`);

  if (needed.has('nginx')) {
    const port = await freePort();
    const child = await startNginx('proxy', cores.contestant, proxyConfig(dir, port, originPorts[0]), `http://127.0.0.1:${port}/api/tiny`);
    running.set('nginx', { url: `http://127.0.0.1:${port}`, pids: childPids(child.pid!), child });
  }
  const workerdContestants = contestants.filter((c) => c.kind === 'workerd' && needed.has(c.id));
  for (const worker of new Set(workerdContestants.map((c) => c.worker!))) await bundleWorker(worker, join(dir, bundleName(worker)));
  // The processes started afresh every round: the Node entries, and the workerd ones beside them.
  const nodeContestants = contestants.filter((c) => (c.kind === 'node' || c.kind === 'workerd') && needed.has(c.id));
  const env = { ORIGIN: origin, ORIGIN_B: originB, BENCH_JWKS: JSON.stringify(benchJwt.jwks), NODE_ENV: 'production' };
  // A few at a time: thirty Node processes type-stripping the workspace at once on a busy 2-core
  // machine can take longer than a contestant is given to answer.
  const launch = async (): Promise<void> => {
    for (let i = 0; i < nodeContestants.length; i += 4) {
      const launched = await Promise.all(nodeContestants.slice(i, i + 4).map(async (c) => [c.id, c.kind === 'workerd' ? await startWorkerd(c.worker!, origin) : await startContestant(c.entry!, env)] as const));
      for (const [id, contestant] of launched) running.set(id, contestant);
    }
  };
  await launch();
  log(`${running.size} contestants running`);


  // One request per case first: a wrong route shows up here, not as a table of 404s.
  for (const c of cases) {
    const request = requestOf(c);
    const body = request.body === undefined ? undefined : 'text' in request.body ? request.body.text : Buffer.alloc(request.body.bytes, 'a');
    try {
      const response = await fetch(`${running.get(c.contestant)!.url}${c.path}`, {
        method: request.method,
        ...(body === undefined ? {} : { body }),
        headers: { ...(request.contentType === undefined ? {} : { 'content-type': request.contentType }), 'x-tenant': 'tenant-1', ...request.headers },
      });
      const text = await response.text();
      if (!response.ok) log(`check: ${c.id} (${c.workload}) answered ${response.status}: ${text.slice(0, 200)}`);
    } catch (error) {
      log(`check: ${c.id} (${c.workload}) failed: ${(error as Error).message}`);
    }
  }

  // Interleaved rounds: every case once per round, the order rotated from round to round, so that
  // no case always runs right after the same neighbour (or at the same point of a slow drift).
  const samples = new Map<string, Sample[]>();
  const perRound = cases.length * (settings.warmSeconds + settings.seconds);
  log(`${cases.length} cases × ${settings.rounds} rounds ≈ ${Math.round(((perRound + (nodeContestants.length + 2) * (firstWarmSeconds - settings.warmSeconds)) * settings.rounds) / 60)} min`);
  let retries = 0;
  for (let round = 0; round < settings.rounds; round++) {
    // Every Node contestant is a fresh process in every round: what one process drifts into (heap,
    // optimization decisions) is one round's sample, not every round's.
    if (round > 0) {
      await Promise.all(nodeContestants.map((c) => stop(running.get(c.id)!.child)));
      await launch();
    }
    const warmed = new Set<string>();
    const shift = (round * Math.ceil(cases.length / settings.rounds)) % cases.length;
    for (const c of [...cases.slice(shift), ...cases.slice(0, shift)]) {
      const target = running.get(c.contestant)!;
      const warmSeconds = warmed.has(c.contestant) ? settings.warmSeconds : firstWarmSeconds;
      warmed.add(c.contestant);
      const measure = (): Promise<Sample> => measureRun(target, c, warmSeconds);
      let sample = await measure();
      // Other work on the machine took much of the contestant's core: measure once more, keep the calmer run.
      if (sample.noisePct > settings.noiseRetryPct) {
        const again = await measure();
        retries++;
        if (!(again.noisePct >= sample.noisePct)) sample = again;
      }
      const key = sampleKey(c.id, c.workload);
      samples.set(key, [...(samples.get(key) ?? []), sample]);
      log(
        `round ${round + 1}/${settings.rounds} ${c.workload.padEnd(6)} ${c.id.padEnd(28)} ${sample.failure ?? `${Math.round(sample.rps)} req/s p99 ${sample.p99ms.toFixed(2)} ms cpu ${sample.cpuPct.toFixed(0)}% other on core 0 ${sample.noisePct.toFixed(0)}% rss ${sample.rssMiB.toFixed(0)} MiB err ${sample.errors} non2xx ${sample.non2xx}`}`,
      );
    }
  }

  const paired = await pairedRuns(cases, running);

  if (only !== undefined || onlyWorkloads !== undefined) {
    // A partial run: the report of these cases only, printed, never written over docs/benchmarks.md.
    // The steady rate runs for those of the rate's contestants it started (with tiny among its workloads).
    const rateRun = cases.some((c) => c.workload === 'tiny' && c.contestant !== 'direct' && rateContestants(quick).includes(c.contestant)) ? await steadyRate(running) : { samples: [], stalls: [] };
    for (const [id, contestant] of running) if (id !== 'direct') await stop(contestant.child);
    process.stdout.write(`${render({ ...reportBase(quick ? 'pnpm bench --quick' : 'pnpm bench', info, loadAverage, cases, retries), samples, paired, rate: rateReport(rateRun), uploads: [] })}\n`);
    return;
  }

  const rateRun = await steadyRate(running);

  // Stop the contestants (frees core 0), keep the origin for nothing more: the upload has its own.
  for (const [id, contestant] of running) if (id !== 'direct') await stop(contestant.child);

  const uploads = await uploadTests();

  const report = render({
    ...reportBase(quick ? 'pnpm bench --quick' : 'pnpm bench', info, loadAverage, cases, retries),
    samples,
    paired,
    rate: rateReport(rateRun),
    uploads,
  });
  process.stdout.write(`${report}\n`);
  writeFileSync(docsFile, report);
  log(`wrote ${docsFile}`);
};

const rateReport = ({ samples, stalls }: { samples: readonly RateSample[]; stalls: readonly CoreStalls[] }): ReportInput['rate'] => ({
  rps: rate.rps,
  seconds: settings.rateSeconds,
  warmSeconds: rate.warmSeconds,
  connections: rate.connections,
  generator: openLoop !== undefined ? { kind: 'open-loop' } : useWrk ? { kind: 'wrk', delayMs: rate.delayMs } : { kind: 'autocannon' },
  busyPct: rate.busyPct,
  samples,
  stalls,
});

/**
 * p99 at a steady moderate rate, direct, nginx, the peers and apigate side by side. Each contestant
 * is measured up to `rate.attempts` times and the calmest attempt kept (the least other work on the
 * contestant's core and on the load core, which also runs the origin): a latency tail is what a
 * neighbour's burst of work on a shared core makes first. The run's own work is not "other": the
 * contestant's threads (its GC helpers included) and softirq are left out of it, so a tail the
 * contestant makes itself stays in every attempt.
 */
const steadyRate = async (running: ReadonlyMap<string, Running>): Promise<{ samples: RateSample[]; stalls: CoreStalls[] }> => {
  const samples: RateSample[] = [];
  // How often each core is taken away with the field of contestants idle in memory, beside the tails.
  const stalls: CoreStalls[] = [];
  if (stallProbe !== undefined && pinning) {
    for (const core of [cores.contestant, cores.load]) stalls.push(await runStalls(stallProbe, core, rate.stallSeconds, rate.stallThresholdMs));
    log(`stalls over ${rate.stallThresholdMs} ms in ${rate.stallSeconds} s: ${stalls.map((s) => `core ${s.core} ${s.stalls} (${s.over2ms} over 2 ms, longest ${s.longestMs.toFixed(1)} ms)`).join(', ')}`);
  }
  const tiny = workloads.find((w) => w.id === 'tiny')!;
  const origin = running.get('direct')!;
  for (const id of rateContestants(quick)) {
    const target = running.get(id);
    const label = contestants.find((c) => c.id === id)!.label;
    if (target === undefined) continue;
    const path = id === 'direct' ? '/tiny' : '/api/tiny';
    const url = `${target.url}${path}`;
    const spec = { ...tiny.request, path, connections: rate.connections };
    const measure = async (): Promise<RateSample> => {
      try {
        if (openLoop !== undefined) await runOpenLoop(openLoop, url, { rps: rate.rps, connections: rate.connections, seconds: rate.warmSeconds, warmSeconds: 0 });
        else await (useWrk ? runWrk(dir, url, { ...spec, delayMs: rate.delayMs }, rate.warmSeconds) : runAutocannon(url, spec, rate.warmSeconds, rate.rps));
        const ticks = (r: Running): number => r.pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
        const before = { cpu: ticks(target), origin: ticks(origin), core0: coreTicks(cores.contestant), core1: coreTicks(cores.load), queued: target.pids.reduce((sum, pid) => sum + runQueueNs(pid), 0), helpers: target.pids.reduce((sum, pid) => sum + helperThreadsNs(pid), 0), accepts: await originAccepts(origin.url) };
        const v8Before = target.v8Log === undefined ? 0 : statSync(target.v8Log).size;
        const t0 = performance.now();
        const result: LoadResult & Partial<OpenLoopResult> =
          openLoop !== undefined
            ? await runOpenLoop(openLoop, url, { rps: rate.rps, connections: rate.connections, seconds: settings.rateSeconds, warmSeconds: 0 })
            : useWrk
              ? await runWrk(dir, url, { ...spec, delayMs: rate.delayMs }, settings.rateSeconds)
              : await runAutocannon(url, spec, settings.rateSeconds, rate.rps);
        const seconds = (performance.now() - t0) / 1000;
        const accepts = await originAccepts(origin.url);
        const cpu = ticks(target) - before.cpu;
        const core0 = coreTicks(cores.contestant);
        const core1 = coreTicks(cores.load);
        const other0 = core0.busy - before.core0.busy - (core0.softirq - before.core0.softirq) - (id === 'direct' ? 0 : cpu);
        // The load core runs the origin and the generator: what is left is someone else's.
        const generator = result.generatorCpuSeconds === undefined ? Number.NaN : result.generatorCpuSeconds * clockTicks();
        const other1 = core1.busy - before.core1.busy - (core1.softirq - before.core1.softirq) - (ticks(origin) - before.origin) - generator;
        const queued = target.pids.reduce((sum, pid) => sum + runQueueNs(pid), 0) - before.queued;
        const helpers = target.pids.reduce((sum, pid) => sum + helperThreadsNs(pid), 0) - before.helpers;
        if (target.v8Log !== undefined) {
          const lines = readFileSync(target.v8Log).subarray(v8Before).toString().split('\n');
          const count = (pattern: RegExp): number => lines.filter((line) => pattern.test(line)).length;
          log(`v8 ${id}: ${count(/^\[completed optimizing /)} optimizing compiles, ${count(/^\[bailout |deoptimizing/)} deopts, ${count(/ ms: Scavenge /)} scavenges, ${count(/ ms: Mark-Compact /)} mark-compacts in the run; helper threads ${(helpers / 1e6).toFixed(0)} ms`);
        }
        return {
          id,
          label,
          rps: result.rps,
          p50ms: result.p50ms,
          p99ms: result.p99ms,
          ...(result.p90ms === undefined ? {} : { p90ms: result.p90ms, p999ms: result.p999ms!, maxMs: result.maxMs!, queuedMax: result.queuedMax! }),
          errors: result.errors,
          non2xx: result.non2xx,
          cpuPct: fraction(cpu, seconds),
          noisePct: id === 'direct' ? Number.NaN : fraction(Math.max(0, other0), seconds),
          loadNoisePct: fraction(Math.max(0, other1), seconds),
          runQueueMsPerS: queued / 1e6 / seconds,
          helperMsPerS: helpers / 1e6 / seconds,
          // The origin's accepts, less this probe's own connection; direct's are the generator's own.
          upstreamConnects: id === 'direct' ? Number.NaN : accepts - before.accepts - 1,
        };
      } catch (error) {
        return { id, label, rps: Number.NaN, p50ms: Number.NaN, p99ms: Number.NaN, errors: 0, non2xx: 0, failure: (error as Error).message.split('\n')[0]! };
      }
    };
    const noise = (sample: RateSample): number => Math.max(Number.isNaN(sample.noisePct ?? Number.NaN) ? 0 : sample.noisePct!, Number.isNaN(sample.loadNoisePct ?? Number.NaN) ? 0 : sample.loadNoisePct!);
    let kept = await measure();
    let attempts = 1;
    while (kept.failure === undefined && noise(kept) > rate.calmPct && attempts < rate.attempts) {
      const again = await measure();
      attempts++;
      if (again.failure === undefined && noise(again) < noise(kept)) kept = again;
    }
    samples.push({ ...kept, attempts });
    log(
      `rate ${id}: ${kept.failure ?? `${Math.round(kept.rps)} req/s p50 ${kept.p50ms} ms p99 ${kept.p99ms} ms max ${kept.maxMs ?? '?'} ms cpu ${kept.cpuPct?.toFixed(0)}% other on core 0 ${kept.noisePct?.toFixed(0)}% on core 1 ${kept.loadNoisePct?.toFixed(0)}% run queue ${kept.runQueueMsPerS?.toFixed(1)} ms/s upstream connects ${kept.upstreamConnects} (attempt ${attempts})`}`,
    );
  }
  return { samples, stalls };
};

/** One measured run of a case: `warmSeconds` of load discarded, then `settings.seconds` measured. */
const measureRun = async (target: Running, c: Case, warmSeconds: number): Promise<Sample> => {
  const url = `${target.url}${c.path}`;
  const request = requestOf(c);
  try {
    if (target.child.exitCode !== null || target.child.signalCode !== null) throw new Error('process exited');
    await load(url, request, warmSeconds);
    const before = target.pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
    const core0Before = coreTicks(cores.contestant);
    const t0 = performance.now();
    const result = await load(url, request, settings.seconds);
    const seconds = (performance.now() - t0) / 1000;
    const after = target.pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
    // What else ran on the contestant's core meanwhile (other users of the machine, stray work),
    // with the kernel's softirq time apart: most of it is the contestant's own loopback traffic.
    const core0After = coreTicks(cores.contestant);
    const core0Busy = core0After.busy - core0Before.busy;
    const softirq = core0After.softirq - core0Before.softirq;
    const noisePct = c.contestant === 'direct' ? Number.NaN : fraction(Math.max(0, core0Busy - softirq - (after - before)), seconds);
    const softirqPct = c.contestant === 'direct' ? Number.NaN : fraction(softirq, seconds);
    const rssMiB = target.pids.reduce((sum, pid) => sum + statusKiB(pid, 'VmRSS'), 0) / 1024;
    if (result.requests === 0) throw new Error('no request completed');
    return { rps: result.rps, p50ms: result.p50ms, p99ms: result.p99ms, cpuPct: fraction(after - before, seconds), noisePct, softirqPct, rssMiB, errors: result.errors, non2xx: result.non2xx };
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!;
    return { rps: Number.NaN, p50ms: Number.NaN, p99ms: Number.NaN, cpuPct: Number.NaN, noisePct: Number.NaN, softirqPct: Number.NaN, rssMiB: Number.NaN, errors: 0, non2xx: 0, failure: message };
  }
};

/**
 * The targets' pairs measured back to back in ABBA blocks (a, b, b, a), `settings.pairs` blocks per
 * pair: a drift of the machine's speed over a block (other tenants of the host, a frequency change)
 * cancels in the block's ratio, where the rounds' ratios compare runs minutes apart. Every target
 * gets them: on this kind of host a round ratio can be off by half, on either side of a threshold.
 */
const pairedRuns = async (cases: readonly Case[], running: ReadonlyMap<string, Running>): Promise<Map<string, PairedBlock[]>> => {
  const paired = new Map<string, PairedBlock[]>();
  if (settings.pairs === 0) return paired;
  for (const comparison of comparisons) {
    if (comparison.target === undefined) continue;
    const a = cases.find((c) => c.id === comparison.a && c.workload === comparison.workload);
    const b = cases.find((c) => c.id === comparison.b && c.workload === comparison.workload);
    const targetA = a && running.get(a.contestant);
    const targetB = b && running.get(b.contestant);
    if (a === undefined || b === undefined || targetA === undefined || targetB === undefined) continue;
    const blocks: PairedBlock[] = [];
    for (let block = 0; block < settings.pairs; block++) {
      const runs: Sample[] = [];
      for (const [c, target] of [[a, targetA], [b, targetB], [b, targetB], [a, targetA]] as const) runs.push(await measureRun(target, c, 1));
      const [a1, b1, b2, a2] = runs as [Sample, Sample, Sample, Sample];
      const failed = runs.some((run) => run.failure !== undefined || run.errors > 0 || run.non2xx > 0);
      blocks.push(
        failed
          ? { rps: Number.NaN, perCpu: Number.NaN }
          : { rps: (a1.rps + a2.rps) / (b1.rps + b2.rps), perCpu: (a1.rps / a1.cpuPct + a2.rps / a2.cpuPct) / (b1.rps / b1.cpuPct + b2.rps / b2.cpuPct) },
      );
      log(`paired ${comparison.workload} ${comparison.a} / ${comparison.b} block ${block + 1}/${settings.pairs}: ${blocks.at(-1)!.rps.toFixed(3)} (per CPU-s ${blocks.at(-1)!.perCpu.toFixed(3)})`);
    }
    paired.set(pairKey(comparison), blocks);
  }
  return paired;
};

/** The parts of the report that are the same for a full and a partial run. */
const reportBase = (command: string, info: ReturnType<typeof machine>, loadAverage: string, cases: readonly Case[], retries: number) => ({
  command: `${command}${only === undefined ? '' : ` --only ${only.join(',')}`}${onlyWorkloads === undefined ? '' : ` --workloads ${onlyWorkloads.join(',')}`}`,
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  quick,
  rounds: settings.rounds,
  warmSeconds: settings.warmSeconds,
  firstWarmSeconds,
  seconds: settings.seconds,
  machine: info,
  versions: { node: process.version, nginx: nginxVersion(nginx!), 'load generator': loadTool, workerd: workerdVersion, ...packageVersions() },
  loadTool: useWrk ? ('wrk' as const) : ('autocannon' as const),
  pinning,
  damonPaused: damon.paused,
  kernelThreadsMoved: kernelThreads.moved.map((thread) => thread.comm),
  workloads: workloads as Workload[],
  cases,
  comparisons,
  uploadLimitMiB,
  durationSeconds: (Date.now() - started) / 1000,
  loadAverage,
  retries,
  noiseRetryPct: settings.noiseRetryPct,
});

/**
 * The upload test of apigate express on the default transport (the target is judged on it), on
 * NodeTransport, and of their reference, express + bare http-proxy-3.
 */
const uploadTests = async (): Promise<UploadResult[]> => {
  const uploads: UploadResult[] = [];
  // The default heap first (the target is judged on it), then a small young generation: what the
  // growth is made of (report.ts, "Memory during …").
  for (const nodeFlags of [[], [`--max-semi-space-size=${uploadSemiSpaceMiB}`]]) {
    for (const id of ['apigate-express-undici', 'apigate-express', 'express-http-proxy-3']) {
      const contestant = contestants.find((c) => c.id === id)!;
      uploads.push(await uploadTest(settings.uploadMiB, contestant.entry!, nodeFlags.length === 0 ? contestant.label : `${contestant.label}, node ${nodeFlags.join(' ')}`, nodeFlags));
      log(`upload ${id} ${nodeFlags.join(' ')}: ${JSON.stringify(uploads.at(-1))}`);
    }
  }
  return uploads;
};

/** Peak memory of a contestant's passthrough while one large chunked POST streams through it. */
const uploadTest = async (mebibytes: number, entry: string, label: string, nodeFlags: readonly string[]): Promise<UploadResult> => {
  const failed = (failure: string): UploadResult => ({ label, mebibytes, received: undefined, status: undefined, seconds: Number.NaN, rssBeforeMiB: Number.NaN, peakMiB: Number.NaN, growthMiB: Number.NaN, peakReset: false, failure });
  const sink = startNode(cores.load, 'tools/upload-sink.ts');
  try {
    const { port } = await firstJsonLine<{ port: number }>(sink, 'upload sink');
    const gateway = await startContestant(entry, { ORIGIN: `http://127.0.0.1:${port}`, NODE_ENV: 'production' }, nodeFlags);
    const url = `${gateway.url}/api/upload`;
    const send = async (size: number): Promise<{ status?: number; body?: string; seconds?: number; error?: string }> => {
      const { stdout } = await run(startNode(cores.load, 'tools/upload-client.ts', [url, String(size)]));
      return JSON.parse(stdout.trim().split('\n').pop() || '{"error":"no output"}') as { status?: number; body?: string; seconds?: number; error?: string };
    };
    const warm = await send(8);
    if (warm.error !== undefined) return failed(warm.error);
    await sleep(500);
    const pid = gateway.pids[0]!;
    const rssBefore = statusKiB(pid, 'VmRSS') / 1024;
    const peakReset = resetPeak(pid);
    const result = await send(mebibytes);
    const peak = statusKiB(pid, 'VmHWM') / 1024;
    await stop(gateway.child);
    if (result.error !== undefined) return failed(result.error);
    const received = (JSON.parse(result.body ?? '{}') as { bytes?: number }).bytes;
    return { label, mebibytes, received, status: result.status, seconds: result.seconds ?? Number.NaN, rssBeforeMiB: rssBefore, peakMiB: peak, growthMiB: peak - rssBefore, peakReset };
  } catch (error) {
    return failed((error as Error).message.split('\n')[0]!);
  } finally {
    await stop(sink);
  }
};

const packageVersions = (): Record<string, string> => {
  const versionOf = (name: string): string => {
    try {
      return (JSON.parse(readFileSync(join(benchDir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'not installed';
    }
  };
  const commit = output('git', ['-C', repoDir, 'rev-parse', '--short', 'HEAD']) ?? 'unknown';
  const dirty = (output('git', ['-C', repoDir, 'status', '--porcelain', '--', 'packages']) ?? '') !== '';
  const names = ['http-proxy-3', 'express', 'koa', 'hono', '@hono/node-server', 'http-proxy-middleware', 'fast-gateway', 'fastify', '@fastify/http-proxy', 'autocannon', 'zod'];
  return {
    '@apigate/* (workspace sources)': `${versionOf('@apigate/core')} at git ${commit}${dirty ? ' + uncommitted changes in packages/' : ''}`,
    ...Object.fromEntries(names.map((name) => [name, versionOf(name)])),
  };
};

try {
  await main();
  await cleanup();
} catch (error) {
  console.error(`bench: ${(error as Error).stack ?? String(error)}`);
  await cleanup();
  process.exitCode = 1;
}
