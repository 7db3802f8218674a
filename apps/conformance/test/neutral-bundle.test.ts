import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { build, type Plugin } from 'esbuild';
import { neutralBuild } from './neutral-build.ts';

/** The runtime-neutral entries: DESIGN.md says they bundle for workerd, Deno and Bun. */
const neutralEntries = ['@apigate/errors', '@apigate/core', '@apigate/core/exchange', '@apigate/validation', '@apigate/policies', '@apigate/auth', '@apigate/rate-limit', '@apigate/rate-limit/durable-object', '@apigate/proxy', '@apigate/hono'];

const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
const isBuiltin = (specifier: string): boolean => specifier.startsWith('node:') || builtins.has(specifier) || builtins.has(specifier.split('/')[0]!);

/** Records every Node built-in that any module of the bundle imports, and who imports it. */
const recordBuiltins = (found: string[]): Plugin => ({
  name: 'record-node-builtins',
  setup(setup) {
    setup.onResolve({ filter: /.*/ }, (args) => {
      if (!isBuiltin(args.path)) return undefined;
      found.push(`${args.importer} imports ${args.path}`);
      return { path: args.path, external: true };
    });
  },
});

const bundleNeutral = async (contents: string): Promise<{ found: string[]; inputs: string[] }> => {
  const found: string[] = [];
  const result = await build({
    stdin: { contents, resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'ts', sourcefile: 'neutral-entry.ts' },
    ...neutralBuild,
    metafile: true,
    plugins: [recordBuiltins(found)],
  });
  // Belt and braces: no import of the metafile may be a built-in either, external or not.
  for (const [input, { imports }] of Object.entries(result.metafile.inputs)) {
    for (const imported of imports) if (isBuiltin(imported.path)) found.push(`${input} imports ${imported.path} (metafile)`);
  }
  return { found: [...new Set(found)], inputs: Object.keys(result.metafile.inputs) };
};

describe('runtime-neutral packages', () => {
  it.each(neutralEntries)('%s bundles for a neutral platform with no Node built-in', async (entry) => {
    const { found, inputs } = await bundleNeutral(`export * from '${entry}';`);
    expect(found).toEqual([]);
    // The workspace sources were bundled, not a prebuilt dist/.
    expect(inputs.some((input) => /packages\/[a-z-]+\/src\/.+\.ts$/.test(input))).toBe(true);
  });

  it('every policy subpath bundles with no Node built-in', async () => {
    const subpaths = ['round-robin', 'consistent-hash', 'least-request', 'least-time', 'no-key', 'client-ip', 'header-sticky', 'path-sticky', 'cookie-sticky', 'dynamic-target'];
    const { found } = await bundleNeutral(subpaths.map((subpath, i) => `export * as p${i} from '@apigate/policies/${subpath}';`).join('\n'));
    expect(found).toEqual([]);
  });

  it('the Node entries are caught: the check is not vacuous', async () => {
    const { found } = await bundleNeutral(`export * from '@apigate/proxy/node';`);
    expect(found.some((line) => line.includes('node:http'))).toBe(true);
  });

  it('the Redis store is a Node-only subpath: ioredis needs Node built-ins', async () => {
    const { found } = await bundleNeutral(`export * from '@apigate/rate-limit/redis';`);
    expect(found.some((line) => /imports (node:)?(net|tls)\b/.test(line))).toBe(true);
  });

  it('the conformance worker (gateway, zod, hono) bundles with no Node built-in', async () => {
    const { found, inputs } = await bundleNeutral(`export { default } from '../src/worker.ts';`);
    expect(found).toEqual([]);
    expect(inputs.some((input) => input.includes('node_modules/.pnpm/hono@'))).toBe(true);
    expect(inputs.some((input) => input.includes('node_modules/.pnpm/zod@'))).toBe(true);
  });
});
