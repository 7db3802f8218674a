// `pnpm --filter @apigate/example-hono-worker build`: bundles both Workers into dist/. Each
// wrangler config's [build] names its own (`node build.mjs worker`, `node build.mjs auth-worker`),
// so that `wrangler dev` with both configs does not write one file twice at once.
import { bundleAuthWorker, bundleWorker } from './src/bundle.ts';

const bundles = { worker: bundleWorker, 'auth-worker': bundleAuthWorker };
const names = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(bundles);
for (const name of names) {
  const bundle = bundles[name];
  if (bundle === undefined) throw new Error(`build.mjs: no bundle named ${name} (${Object.keys(bundles).join(', ')})`);
  console.log(`bundled ${await bundle()}`);
}
