import { fileURLToPath } from 'node:url';
import { describeExample } from '@apigate/test-utils/example';

// Starts the example exactly as `pnpm start` does (its package.json script: bundle the worker, run
// it in workerd through Miniflare with UPSTREAM bound to an echo server on loopback), on a free
// port, and runs every curl command it prints.
describeExample({
  name: 'hono-worker',
  dir: fileURLToPath(new URL('..', import.meta.url)),
  commands: 9,
  framework: 'Hono in workerd',
  ownRoute: 'a Hono route of its own, beside the gateway',
  scopeIn: 'a c.get() variable',
  downUpstream: false,
  clientErrors: false,
  readsJson: true,
  startTimeoutMs: 120_000,
});
