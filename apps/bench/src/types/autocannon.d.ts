// autocannon ships no types; only what src/tools/autocannon-client.ts uses.
declare module 'autocannon' {
  interface Options {
    url: string;
    duration?: number;
    connections?: number;
    overallRate?: number;
    method?: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
  }
  interface Histogram {
    average: number;
    total: number;
    p50: number;
    p99: number;
    max: number;
  }
  interface Result {
    requests: Histogram;
    latency: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
  }
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
