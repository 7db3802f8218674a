import { fileURLToPath } from 'node:url';
import { describeExample } from '@apigate/test-utils/example';

// Starts the example exactly as `pnpm start` does (its package.json script), on a free
// port, and runs every curl command it prints.
describeExample({
  name: 'express-basic',
  dir: fileURLToPath(new URL('..', import.meta.url)),
  commands: 10,
  framework: 'Express',
  ownRoute: 'an Express route of its own, beside the gateway',
  scopeIn: 'res.locals',
  downUpstream: true,
  clientErrors: true,
  readsJson: false,
});
