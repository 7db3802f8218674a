import { Miniflare } from 'miniflare';
import { bundleAuthWorker, bundleWorker, compatibilityDate } from './bundle.ts';
import { startEcho } from './echo.ts';

// Runs the worker locally as Cloudflare would: bundled (src/bundle.ts, as `build` does), in
// workerd through Miniflare, with UPSTREAM bound to an echo server that this script starts on
// loopback and AUTH_SERVICE to the auth worker (src/auth-worker.ts), a second Worker in the same
// workerd. PORT (default 8787; 0 picks a free port) sets the worker's port. `pnpm dev` runs the
// same two Workers with wrangler instead.

const echo = await startEcho();
const scriptPath = await bundleWorker();
const authScriptPath = await bundleAuthWorker();
const port = Number(process.env.PORT ?? 8787);
const mf = new Miniflare({
  // The first worker is the one Miniflare serves on `port`.
  workers: [
    {
      name: 'apigate-hono-worker',
      modules: true,
      scriptPath,
      compatibilityDate: compatibilityDate(),
      bindings: { UPSTREAM: echo.url },
      serviceBindings: { AUTH_SERVICE: 'apigate-auth-worker' },
      durableObjects: { RATE_LIMITER: 'RateLimitObject' },
    },
    { name: 'apigate-auth-worker', modules: true, scriptPath: authScriptPath, compatibilityDate: compatibilityDate() },
  ],
  host: '127.0.0.1',
  port,
});
let url: URL;
try {
  url = await mf.ready;
} catch (error) {
  console.error(`hono-worker: cannot run the worker on 127.0.0.1:${port}: ${(error as Error).message} (set PORT, or PORT=0 for any free port)`);
  await mf.dispose();
  echo.server.close();
  process.exit(1);
}
const base = url.origin;
const tries: [command: string, note: string][] = [
  [`curl '${base}/'`, "the worker's own Hono route"],
  [`curl -H 'X-Request-Id: abc' '${base}/whoami'`, 'the hook as plain Hono middleware'],
  [`curl -H 'Content-Type: application/json' -d '{"stars":5}' '${base}/feedback'`, "the worker's own route reads c.req.json()"],
  [`curl '${base}/api/hello?lang=en'`, 'passthrough -> /hello?lang=en, by fetch'],
  [`curl '${base}/api/users/42'`, 'template rewrite -> /v1/users/42'],
  [`curl -H 'Content-Type: application/json' -d '{"text":"hi"}' '${base}/api/notes'`, 'the body is streamed upstream'],
  [`curl '${base}/api/traced'`, 'the hook sends X-Request-Id upstream'],
  [`curl -X DELETE '${base}/api/hello'`, '405 method_not_allowed, with Allow'],
  [`curl '${base}/api/users/..%2Fadmin'`, '400 invalid_path: no escaping the rewrite'],
  [`curl '${base}/auth/session'`, 'the auth worker, through its service binding'],
  [`curl '${base}/auth/profiles/7'`, 'cf cache options reach the auth worker as request.cf'],
];
const width = Math.max(...tries.map(([command]) => command.length));
console.log(`hono-worker in workerd on ${base} (UPSTREAM = echo upstream ${echo.url}, AUTH_SERVICE = the auth worker); try:`);
for (const [command, note] of tries) console.log(`  ${command.padEnd(width)}  # ${note}`);
console.log('Ctrl-C stops it.');

const stop = (): void => {
  void mf.dispose().finally(() => echo.server.close());
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
