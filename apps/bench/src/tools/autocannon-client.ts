// autocannon as a child process pinned to the load core: the fixed-rate latency test, and the
// throughput load when wrk is absent. argv[2] is a JSON LoadSpec; prints one JSON line (ms).
import autocannon from 'autocannon';

interface LoadSpec {
  url: string;
  seconds: number;
  connections: number;
  rate?: number;
  method?: string;
  body?: { bytes: number } | { text: string };
  headers?: Record<string, string>;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
const body = spec.body === undefined ? undefined : 'text' in spec.body ? spec.body.text : Buffer.alloc(spec.body.bytes, 'a');
const result = await autocannon({
  url: spec.url,
  duration: spec.seconds,
  connections: spec.connections,
  ...(spec.rate === undefined ? {} : { overallRate: spec.rate }),
  ...(spec.method === undefined ? {} : { method: spec.method }),
  ...(body === undefined ? {} : { body }),
  ...(spec.headers === undefined ? {} : { headers: spec.headers }),
});
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total,
    seconds: spec.seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  })}\n`,
);
