import { fileURLToPath } from 'node:url';
import { describeExample } from '@apigate/test-utils/example';

// Starts the example exactly as `pnpm start` does (its package.json script), on a free
// port, and runs every curl command it prints.
describeExample({
  name: 'koa-basic',
  dir: fileURLToPath(new URL('..', import.meta.url)),
  commands: 10,
  framework: '@koa/router',
  ownRoute: 'a @koa/router route of its own, beside the gateway',
  scopeIn: 'ctx.state',
  downUpstream: true,
  clientErrors: true,
  readsJson: false,
});
