import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles src/worker.ts into one ES module for workerd: a neutral platform (no Node built-in may
 * slip in), workspace packages from their sources, Hono's worker/browser builds.
 */
export const bundleWorker = async (outfile = fileURLToPath(new URL('../dist/worker.js', import.meta.url))): Promise<string> => {
  await build({
    entryPoints: [fileURLToPath(new URL('worker.ts', import.meta.url))],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2023',
    conditions: ['@apigate/source', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  });
  return outfile;
};

/** wrangler.toml's compatibility_date, so that local runs use the date a deploy would. */
export const compatibilityDate = (): string => {
  const wrangler = readFileSync(new URL('../wrangler.toml', import.meta.url), 'utf8');
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(wrangler)?.[1];
  if (date === undefined) throw new Error('wrangler.toml has no compatibility_date');
  return date;
};
