import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import workerd from 'workerd';
import { srcDir } from './processes.ts';

/** The workerd binary of the `workerd` package, and its version. */
export const workerdBinary = workerd.default;
export const workerdVersion = workerd.version;

/** The compatibility date every bench Worker runs with (the conformance suite's). */
export const compatibilityDate = '2025-09-01';

/**
 * Bundles src/workers/<id>.ts into one ES module for workerd, as apps/conformance and
 * apps/examples/hono-worker do: a neutral platform (a Node built-in cannot slip in), the workspace
 * packages from their sources, Hono's worker/browser builds; minified, as `wrangler deploy` does,
 * except for a profile (names, and esbuild's `// path` comment before each module).
 */
export const bundleWorker = async (id: string, outfile: string, { minify = true }: { minify?: boolean } = {}): Promise<void> => {
  await build({
    entryPoints: [join(srcDir, 'workers', `${id}.ts`)],
    outfile,
    bundle: true,
    minify,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['@apigate/source', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  });
};

/**
 * A workerd config (Cap'n Proto text) serving one Worker on a loopback port, its ORIGIN binding set,
 * with outbound fetch allowed to private addresses: workerd's default network reaches only public
 * ones, and the origin is on 127.0.0.1.
 */
export const workerdConfig = ({ script, port, origin }: { script: string; port: number; origin: string }): string => `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (allow = ["public", "private"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed ${JSON.stringify(script)})],
  compatibilityDate = "${compatibilityDate}",
  bindings = [(name = "ORIGIN", text = ${JSON.stringify(origin)})],
  globalOutbound = "internet",
);
`;

/** The bundle's file name in `dir`, for the config's `embed` (resolved from the config's folder). */
export const bundleName = (id: string): string => `${id}.worker.js`;

/** Writes a config for a Worker bundled into `dir` (bundleWorker) on `port`; returns its path. */
export const writeWorkerdConfig = ({ dir, id, port, origin }: { dir: string; id: string; port: number; origin: string }): string => {
  const config = join(dir, `${id}-${port}.workerd.capnp`);
  writeFileSync(config, workerdConfig({ script: bundleName(id), port, origin }));
  return config;
};
