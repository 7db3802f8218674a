// pnpm bench --instructions: instructions per request, counted by valgrind's callgrind. A count of
// instructions does not depend on what else the machine runs, so two builds or two contestants can
// be compared to about 1 % on a host where their req/s move by a third between runs.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestSpec } from './load.ts';

/** What one contestant executed per request over the counted requests, in instructions. */
export interface InstructionCount {
  /** The thread that runs JavaScript (the first one: Node's main thread, workerd's isolate thread). */
  readonly main: number;
  /** Every thread of the process: V8's compiler and GC helpers, libuv's pool, workerd's I/O. */
  readonly all: number;
  readonly threads: number;
  readonly requests: number;
}

/** The body of every request of a spec, made once. */
const bodyOf = (spec: RequestSpec): Buffer | undefined =>
  spec.body === undefined ? undefined : 'text' in spec.body ? Buffer.from(spec.body.text) : Buffer.alloc(spec.body.bytes, 'a');

/**
 * Sends `count` requests of `spec` to `url`, `connections` at a time, each after the last answer
 * on its connection (closed loop: under valgrind the contestant runs some fifty times slower, and a
 * paced or open load would only queue). Rejects on a connection error or a status outside 2xx.
 */
const send = async (url: string, spec: RequestSpec, count: number, connections = 4): Promise<void> => {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const body = bodyOf(spec);
  const headers: Record<string, string> = { ...spec.headers };
  if (spec.contentType !== undefined) headers['content-type'] = spec.contentType;
  if (body !== undefined) headers['content-length'] = String(body.byteLength);
  let sent = 0;
  const one = (index: number, retried = false): Promise<void> =>
    new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: spec.method, agent, headers: spec.tenants === true ? { ...headers, 'x-tenant': `tenant-${index % 16}` } : headers },
        (response) => {
          response.resume();
          response.once('end', () => ((response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`${url}: status ${response.statusCode}`))));
          response.once('error', reject);
        },
      );
      // A keep-alive connection the contestant closed as the request went out (seen once with
      // workerd under valgrind on a loaded host): sent again on a fresh one, as an HTTP client does.
      outgoing.once('error', (error) => (outgoing.reusedSocket && !retried ? one(index, true).then(resolve, reject) : reject(error)));
      outgoing.end(body);
    });
  const loop = async (): Promise<void> => {
    while (sent < count) await one(sent++);
  };
  try {
    await Promise.all(Array.from({ length: connections }, loop));
  } finally {
    agent.destroy();
  }
};

/** Waits until `url` answers a request of `spec`; the contestant starts slowly under valgrind. */
const ready = async (url: string, spec: RequestSpec, child: ChildProcess, timeoutMs: number): Promise<void> => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: the contestant exited (${child.exitCode}) under valgrind`);
    try {
      await send(url, spec, 1, 1);
      return;
    } catch (error) {
      if (Date.now() > until) throw new Error(`${url}: no answer under valgrind within ${timeoutMs / 1000} s`, { cause: error });
      await sleep(500);
    }
  }
};

/** The valgrind arguments that run `command` with callgrind counting nothing until it is told to. */
export const callgrindArgs = (outFile: string, command: string, args: readonly string[]): string[] => [
  '--tool=callgrind',
  // JIT code is written to the heap and rewritten in place: valgrind must notice.
  '--smc-check=all-non-file',
  '--instr-atstart=no',
  '--separate-threads=yes',
  '--dump-instr=no',
  `--callgrind-out-file=${outFile}`,
  command,
  ...args,
];

/** Sums the `totals:` lines of one dump's per-thread files (`<out>.<dump>-<thread>`). */
export const readCounts = (dir: string, base: string): { main: number; all: number; threads: number } => {
  let main = 0;
  let all = 0;
  let threads = 0;
  for (const name of readdirSync(dir)) {
    const thread = new RegExp(`^${base}\\.\\d+-(\\d+)$`).exec(name);
    if (thread === null) continue;
    const totals = /^(?:totals|summary): (\d+)/m.exec(readFileSync(join(dir, name), 'utf8'));
    if (totals === null) continue;
    const count = Number(totals[1]);
    all += count;
    threads++;
    if (Number(thread[1]) === 1) main += count;
  }
  return { main, all, threads };
};

/**
 * Starts a contestant under callgrind (`start` spawns valgrind with callgrindArgs and resolves with
 * its URL), sends `warm` requests with the counting off so that V8 has compiled what it will, then
 * counts `count` requests: the counters are zeroed, the requests sent, the counts dumped.
 */
export const countInstructions = async ({
  start,
  spec,
  path,
  warm,
  count,
}: {
  start: (outFile: string) => Promise<{ url: string; child: ChildProcess }>;
  spec: RequestSpec;
  path: string;
  warm: number;
  count: number;
}): Promise<InstructionCount> => {
  const dir = mkdtempSync(join(tmpdir(), 'apigate-callgrind-'));
  const base = 'callgrind.out';
  const { url, child } = await start(join(dir, base));
  try {
    const target = `${url}${path}`;
    await ready(target, spec, child, 180_000);
    await send(target, spec, warm);
    const pid = String(child.pid);
    execFileSync('callgrind_control', ['--instr=on', pid], { stdio: 'ignore' });
    execFileSync('callgrind_control', ['--zero', pid], { stdio: 'ignore' });
    await send(target, spec, count);
    execFileSync('callgrind_control', ['--dump', pid], { stdio: 'ignore' });
    const counts = readCounts(dir, base);
    if (counts.threads === 0) throw new Error(`${target}: callgrind wrote no counts`);
    return { main: counts.main / count, all: counts.all / count, threads: counts.threads, requests: count };
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    if (process.env.KEEP_CALLGRIND === undefined) rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`callgrind files kept in ${dir}\n`);
  }
};

/** One counted case of the report: its id, workload and label, and what it executed. */
export interface CountedCase {
  readonly id: string;
  readonly workload: string;
  readonly label: string;
  /** How many requests it served uncounted first. */
  readonly warm: number;
  readonly count: InstructionCount;
}

/** A target of cases.ts's comparisons, as the instruction report compares it. */
export interface CountedTarget {
  readonly note: string;
  readonly a: string;
  readonly b: string;
  readonly workload: string;
  readonly target: number;
}

const thousands = (instructions: number): string => `${(instructions / 1000).toFixed(1)} k`;

/**
 * The report of `pnpm bench --instructions targets` (docs/instructions.md): for every throughput
 * target, both sides' instructions per request and the ratio b / a, which is a's requests per
 * instruction as a multiple of b's, the figure beside the target's req/s ratio.
 */
export const renderInstructions = (input: {
  readonly command: string;
  readonly date: string;
  readonly durationSeconds: number;
  readonly versions: string;
  readonly count: number;
  readonly cases: readonly CountedCase[];
  readonly targets: readonly CountedTarget[];
}): string => {
  const find = (id: string, workload: string): CountedCase | undefined => input.cases.find((c) => c.id === id && c.workload === workload);
  const lines = [
    '# Instructions per request',
    '',
    `Generated by \`${input.command}\` (apps/bench) on ${input.date}, in ${Math.round(input.durationSeconds)} s (${input.versions}). Every number below was printed by that run.`,
    '',
    `Each contestant ran alone under valgrind's callgrind, pinned as in \`pnpm bench\`, behind the same nginx origin: first some requests uncounted (the warm-up column: 20 000 for a Node contestant, whose count on the JS thread fell by a fifth between 3 000 and 20 000 as V8 tiered up at valgrind's pace, 2 000 for workerd, whose count had settled after 1 000), then ${input.count} counted, on 4 connections in a closed loop.`,
    '',
    "A count of instructions does not depend on what else the host runs: the same build counted the same to within about 1 % in repeated runs here, where its req/s in docs/benchmarks.md can move by a third between runs. That makes it the figure to compare two builds with. It counts the process's own user-space work only. The kernel's work is not in it (the write and read syscalls and loopback delivery, about a quarter of a proxied tiny GET's CPU time on Node in docs/benchmarks.md's profiles), nor the time a request waits. So a ratio here is not a req/s ratio; where the two disagree, the difference is the kernel's or the host's.",
    '',
    '"JS thread" is the thread that runs JavaScript (Node\'s main thread, workerd\'s isolate thread); the ratios are taken on it. "All threads" adds V8\'s compiler and GC helpers, libuv\'s pool and workerd\'s I/O threads. Under valgrind a Node contestant\'s compiler threads can still be optimizing long after a normal run would have finished, so its all-threads figure overstates what a warm process spends.',
    '',
    '## Targets',
    '',
    '| target | a: instructions per request (JS thread / all threads) | b: instructions per request (JS thread / all threads) | ratio b / a, JS thread | ratio b / a, all threads | target |',
    '| --- | --- | --- | ---: | ---: | ---: |',
  ];
  for (const t of input.targets) {
    const a = find(t.a, t.workload);
    const b = find(t.b, t.workload);
    if (a === undefined || b === undefined) continue;
    lines.push(
      `| ${t.note} | ${a.label}: ${thousands(a.count.main)} / ${thousands(a.count.all)} | ${b.label}: ${thousands(b.count.main)} / ${thousands(b.count.all)} | ${(b.count.main / a.count.main).toFixed(2)} | ${(b.count.all / a.count.all).toFixed(2)} | ${t.target} |`,
    );
  }
  lines.push('', '## Cases', '', '| case | workload | warm-up requests | JS thread | all threads | threads |', '| --- | --- | ---: | ---: | ---: | ---: |');
  for (const c of input.cases) lines.push(`| ${c.label} | ${c.workload} | ${c.warm} | ${thousands(c.count.main)} | ${thousands(c.count.all)} | ${c.count.threads} |`);
  return `${lines.join('\n')}\n`;
};
