import type { BuildOptions } from 'esbuild';

/**
 * How code is bundled for workerd: neutral platform, ESM, workspace packages from their TypeScript
 * sources (`@apigate/source`), `worker`/`browser` builds of dependencies.
 */
export const neutralBuild = {
  bundle: true,
  write: false,
  platform: 'neutral',
  format: 'esm',
  target: 'es2022',
  conditions: ['@apigate/source', 'worker', 'browser'],
  mainFields: ['module', 'main'],
  logLevel: 'silent',
} as const satisfies BuildOptions;
