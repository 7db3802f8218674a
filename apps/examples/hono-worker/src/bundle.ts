import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles src/worker.ts into one ES module for workerd: a neutral platform (no Node built-in may
 * slip in), workspace packages from their sources, Hono's worker/browser builds.
 */
export const bundleWorker = async (outfile = fileURLToPath(new URL('../dist/worker.js', import.meta.url)), entry = 'worker.ts'): Promise<string> => {
  await build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
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

/** Bundles src/auth-worker.ts, the Worker behind the AUTH_SERVICE binding, the same way. */
export const bundleAuthWorker = (outfile = fileURLToPath(new URL('../dist/auth-worker.js', import.meta.url))): Promise<string> => bundleWorker(outfile, 'auth-worker.ts');

/** wrangler.toml's compatibility_date, so that local runs use the date a deploy would. */
export const compatibilityDate = (): string => {
  const wrangler = readFileSync(new URL('../wrangler.toml', import.meta.url), 'utf8');
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(wrangler)?.[1];
  if (date === undefined) throw new Error('wrangler.toml has no compatibility_date');
  return date;
};
