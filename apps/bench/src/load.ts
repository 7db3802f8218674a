import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cores, run, srcDir, startNode, startPinned } from './processes.ts';

/** What one request of a workload looks like. */
export interface RequestSpec {
  method: 'GET' | 'POST';
  /** Path on the contestant; the direct contestant gets it without the /api prefix. */
  path: string;
  body?: { bytes: number } | { text: string };
  contentType?: string;
  /** Headers every request carries (a bearer token). */
  headers?: Readonly<Record<string, string>>;
  /** Cycle an x-tenant header over 16 values (sticky routing). */
  tenants?: boolean;
  connections: number;
  /**
   * A paced load: each connection waits between a response and its next request, uniformly
   * between 0 and twice this many ms. A fixed wait would keep the connections in lockstep (they all
   * start together and all wait the same), so the server would see bursts of every connection at once.
   */
  delayMs?: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  non2xx: number;
}

const luaString = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

// wrk prints its summary in done(); errors.status counts responses with a status above 399.
const doneLua = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests":%d,"us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p99":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
`;

const scripts = new Map<string, string>();

/** A wrk Lua script for the spec, written once into dir. */
const wrkScript = (dir: string, spec: RequestSpec): string => {
  const key = JSON.stringify({ ...spec, path: '', connections: 0 });
  const known = scripts.get(key);
  if (known !== undefined) return known;
  const lines = [`wrk.method = "${spec.method}"`];
  if (spec.body !== undefined) lines.push('text' in spec.body ? `wrk.body = ${luaString(spec.body.text)}` : `wrk.body = string.rep("a", ${spec.body.bytes})`);
  if (spec.contentType !== undefined) lines.push(`wrk.headers["Content-Type"] = "${spec.contentType}"`);
  for (const [name, value] of Object.entries(spec.headers ?? {})) lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
  if (spec.tenants === true) {
    lines.push(
      'local reqs = {}',
      'local n = 0',
      'init = function(args) for i = 1, 16 do reqs[i] = wrk.format(nil, nil, { ["x-tenant"] = "tenant-" .. i, ["Host"] = wrk.headers["Host"] }) end end',
      'request = function() n = n % 16 + 1 return reqs[n] end',
    );
  }
  if (spec.delayMs !== undefined) lines.push(`delay = function() return math.random(0, ${2 * spec.delayMs}) end`);
  const file = join(dir, `wrk-${scripts.size}.lua`);
  writeFileSync(file, `${lines.join('\n')}\n${doneLua}`);
  scripts.set(key, file);
  return file;
};

/** One wrk run (1 thread, pinned to the load core). */
export const runWrk = async (dir: string, url: string, spec: RequestSpec, seconds: number): Promise<LoadResult> => {
  const script = wrkScript(dir, spec);
  const child = startPinned(cores.load, 'wrk', ['-t1', `-c${spec.connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url]);
  const { code, stdout, stderr } = await run(child);
  const line = stdout.split('\n').find((text) => text.startsWith('BENCH '));
  if (line === undefined) throw new Error(`wrk failed (${code}) on ${url}: ${stdout}\n${stderr}`);
  const raw = JSON.parse(line.slice(6)) as Record<string, number>;
  const secs = raw.us! / 1e6;
  return {
    requests: raw.requests!,
    seconds: secs,
    rps: raw.requests! / secs,
    p50ms: raw.p50! / 1000,
    p99ms: raw.p99! / 1000,
    errors: raw.connect! + raw.read! + raw.write! + raw.timeout!,
    non2xx: raw.status!,
  };
};

/** One autocannon run from a child pinned to the load core; `rate` fixes the request rate. */
export const runAutocannon = async (url: string, spec: RequestSpec, seconds: number, rate?: number): Promise<LoadResult> => {
  const load = {
    url,
    seconds,
    connections: spec.connections,
    method: spec.method,
    ...(spec.body === undefined ? {} : { body: spec.body }),
    headers: { ...(spec.contentType === undefined ? {} : { 'content-type': spec.contentType }), ...(spec.tenants === true ? { 'x-tenant': 'tenant-1' } : {}), ...spec.headers },
    ...(rate === undefined ? {} : { rate }),
  };
  const { code, stdout, stderr } = await run(startNode(cores.load, 'tools/autocannon-client.ts', [JSON.stringify(load)]));
  const line = stdout.trim().split('\n').pop();
  if (code !== 0 || line === undefined || line === '') throw new Error(`autocannon failed (${code}) on ${url}: ${stdout}\n${stderr}`);
  const raw = JSON.parse(line) as { requests: number; seconds: number; p50: number; p99: number; errors: number; non2xx: number };
  return { requests: raw.requests, seconds: raw.seconds, rps: raw.requests / raw.seconds, p50ms: raw.p50, p99ms: raw.p99, errors: raw.errors, non2xx: raw.non2xx };
};

export interface OpenLoopResult extends LoadResult {
  p90ms: number;
  p999ms: number;
  maxMs: number;
  /** The most requests that were due while every connection was busy (they wait, and count as late). */
  queuedMax: number;
  /** Connections the generator had to open again during the run (the server closed them). */
  reconnects: number;
  /** The generator's own CPU time, seconds (it shares the load core with the origin). */
  generatorCpuSeconds: number;
}

/** Compiles tools/<name>.c into dir with the system's C compiler; undefined when there is none. */
export const buildTool = (dir: string, name: 'openloop' | 'stalls'): string | undefined => {
  const binary = join(dir, name);
  const result = spawnSync('cc', ['-O2', '-o', binary, join(srcDir, `tools/${name}.c`)], { encoding: 'utf8' });
  return result.status === 0 ? binary : undefined;
};

/** What tools/stalls.c saw on one core: wake-ups more than the threshold late. */
export interface CoreStalls {
  core: string;
  seconds: number;
  thresholdMs: number;
  stalls: number;
  /** Of them, those over 2 ms. */
  over2ms: number;
  lostMs: number;
  longestMs: number;
}

/** Runs the stall probe pinned on `core` for `seconds`. */
export const runStalls = async (binary: string, core: string, seconds: number, thresholdMs: number): Promise<CoreStalls> => {
  const { code, stdout, stderr } = await run(startPinned(core, binary, [String(seconds), String(Math.round(thresholdMs * 1000))]));
  const line = stdout.split('\n').find((text) => text.startsWith('{'));
  if (code !== 0 || line === undefined) throw new Error(`stalls failed (${code}) on core ${core}: ${stdout}\n${stderr}`);
  const raw = JSON.parse(line) as Record<string, number>;
  return { core, seconds: raw.us! / 1e6, thresholdMs, stalls: raw.stalls!, over2ms: raw.over2ms!, lostMs: raw.lostUs! / 1000, longestMs: raw.longestUs! / 1000 };
};

/**
 * One open-loop run from the load core: `rps` requests a second due at even intervals whatever the
 * server does, on `connections` keep-alive connections, latency from when each request was due.
 */
export const runOpenLoop = async (binary: string, url: string, load: { rps: number; connections: number; seconds: number; warmSeconds: number }): Promise<OpenLoopResult> => {
  const { port, pathname, search } = new URL(url);
  const child = startPinned(cores.load, binary, [port, `${pathname}${search}`, String(load.rps), String(load.connections), String(load.seconds), String(load.warmSeconds)]);
  const { code, stdout, stderr } = await run(child);
  const line = stdout.split('\n').find((text) => text.startsWith('{'));
  if (code !== 0 || line === undefined) throw new Error(`openloop failed (${code}) on ${url}: ${stdout}\n${stderr}`);
  const raw = JSON.parse(line) as Record<string, number>;
  const seconds = raw.us! / 1e6;
  return {
    requests: raw.requests!,
    seconds,
    rps: raw.requests! / seconds,
    p50ms: raw.p50! / 1000,
    p90ms: raw.p90! / 1000,
    p99ms: raw.p99! / 1000,
    p999ms: raw.p999! / 1000,
    maxMs: raw.max! / 1000,
    errors: raw.errors!,
    non2xx: raw.non2xx!,
    queuedMax: raw.queuedMax!,
    reconnects: raw.reconnects!,
    generatorCpuSeconds: raw.cpuUs! / 1e6,
  };
};
