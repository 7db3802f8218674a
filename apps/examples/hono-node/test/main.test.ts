import { fileURLToPath } from 'node:url';
import { describeExample } from '@apigate/test-utils/example';

// Starts the example exactly as `pnpm start` does (its package.json script), on a free
// port, and runs every curl command it prints.
describeExample({
  name: 'hono-node',
  dir: fileURLToPath(new URL('..', import.meta.url)),
  commands: 10,
  framework: 'Hono',
  ownRoute: 'a Hono route of its own, beside the gateway',
  scopeIn: 'a c.get() variable',
  downUpstream: true,
  clientErrors: false,
  readsJson: true,
});
