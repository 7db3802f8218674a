// `pnpm --filter @apigate/example-hono-worker build`: bundles the worker into dist/worker.js.
import { bundleWorker } from './src/bundle.ts';

console.log(`bundled ${await bundleWorker()}`);
