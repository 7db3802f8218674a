import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { send, startUpstream, type Echo, type Upstream } from '@apigate/test-utils/http';
import { fileFromTarball, readPacked, startRegistry, type Packed, type Registry } from './registry.ts';

// The published packages as an app outside the workspace gets them: every package packed with
// `pnpm pack` (which turns workspace:^ into a real range), served by a loopback registry for the
// @apigate scope, installed into a fresh app in os.tmpdir() with npm and with pnpm (no overrides;
// pnpm isolated, so a package sees only what it declares), typechecked strictly with
// skipLibCheck off, started, and sent real requests. Run through turbo (pnpm test), which builds
// the packages first.

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fixture = fileURLToPath(new URL('../fixture', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'apigate-consumer-'));

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly devDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

const manifestOf = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** A range the workspace declares, or a clear failure when it no longer declares it. */
const declared = (ranges: Record<string, string> | undefined, name: string): string => {
  const range = ranges?.[name];
  if (range === undefined) throw new Error(`the workspace no longer declares ${name}`);
  return range;
};
const publishedDirs = readdirSync(join(root, 'packages'))
  .map((name) => join(root, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')) && manifestOf(dir).private !== true);

/**
 * The npm_* settings of the pnpm running this test, NODE_OPTIONS and NODE_PATH (jest's, pointing
 * into the workspace) must not reach the app. Turbo passes a task only the variables it lists:
 * apps/consumer/turbo.json adds the CA and proxy ones that installs from the registry may need.
 */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(npm_|pnpm_(?!home$)|node_options$|node_path$|init_cwd$)/i.test(name)));

interface Ran {
  readonly code: number | null;
  readonly output: string;
}

/** Runs a command to its end (bounded: installs on a busy machine take a while) with its output. */
const run = (command: string, args: readonly string[], cwd: string, timeoutMs = 300_000): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs / 1000} s:\n${output}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });

const succeed = async (command: string, args: readonly string[], cwd: string): Promise<string> => {
  const { code, output } = await run(command, args, cwd);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} in ${cwd} exited ${code}:\n${output}`);
  return output;
};

let packed: Packed[] = [];
let registry: Registry | undefined;
let upstream: Upstream | undefined;

beforeAll(async () => {
  for (const dir of publishedDirs) {
    if (!existsSync(join(dir, 'dist', 'index.js'))) throw new Error(`${dir} is not built: run the consumer test through turbo (pnpm test), which builds first`);
  }
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  await Promise.all(publishedDirs.map((dir) => succeed('pnpm', ['pack', '--pack-destination', tarballs], dir)));
  packed = readdirSync(tarballs).map((file) => readPacked(join(tarballs, file)));
  registry = await startRegistry(packed);
  upstream = await startUpstream();
}, 300_000);

afterAll(async () => {
  await registry?.close();
  await upstream?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the packed tarballs', () => {
  it('are one per published package', () => {
    expect(packed.map((pkg) => pkg.name).sort()).toEqual(publishedDirs.map((dir) => manifestOf(dir).name).sort());
  });

  it('hold built JS, declarations, README and LICENSE, and no tests', () => {
    for (const pkg of packed) {
      const bytes = readFileSync(pkg.file);
      expect(() => fileFromTarball(bytes, 'package/dist/index.js')).not.toThrow();
      expect(() => fileFromTarball(bytes, 'package/dist/index.d.ts')).not.toThrow();
      expect(fileFromTarball(bytes, 'package/LICENSE').toString()).toMatch(/^MIT License/);
      expect(fileFromTarball(bytes, 'package/README.md').toString()).toContain(`# ${pkg.name}`);
      expect(() => fileFromTarball(bytes, 'package/src/index.test.ts')).toThrow();
    }
  });

  it('name their internal dependencies with real ranges that the packed versions satisfy', () => {
    const versions = new Map(packed.map((pkg) => [pkg.name, pkg.version]));
    for (const pkg of packed) {
      expect(JSON.stringify(pkg.manifest)).not.toContain('workspace:');
      for (const [name, range] of Object.entries({ ...pkg.manifest.dependencies, ...pkg.manifest.peerDependencies })) {
        if (name.startsWith('@apigate/')) expect(`${name}@${range}`).toBe(`${name}@^${versions.get(name)}`);
      }
    }
  });

  it('are publish-ready: public, provenance, repository folder, license, engines', () => {
    // The Node transport's undici 8 declares Node 22.19: the proxy and the adapters that load it say so.
    const undiciFloor = new Set(['@apigate/proxy', '@apigate/express', '@apigate/koa', '@apigate/hono']);
    for (const pkg of packed) {
      const dir = publishedDirs.find((candidate) => manifestOf(candidate).name === pkg.name)!;
      expect(pkg.manifest).toMatchObject({
        license: 'MIT',
        type: 'module',
        engines: { node: undiciFloor.has(pkg.name) ? '>=22.19' : '>=22' },
        publishConfig: { access: 'public', provenance: true },
        repository: { type: 'git', directory: dir.slice(root.length).replace(/\/$/, '') },
      });
    }
  });
});

type Manager = 'npm' | 'pnpm';

/**
 * The third-party versions the app asks for: with pnpm the ones the workspace tests the packages
 * with; with npm Koa from the oldest major @apigate/koa's peer range allows (2), so both ends of
 * that range are checked.
 */
const thirdParty = (manager: Manager): { dependencies: Record<string, string>; devDependencies: Record<string, string> } => {
  const dev = (pkg: string, name: string): string => declared(manifestOf(join(root, 'packages', pkg)).devDependencies, name);
  const oldestPeer = (pkg: string, name: string): string => declared(manifestOf(join(root, 'packages', pkg)).peerDependencies, name).split('||')[0]!.trim();
  return {
    dependencies: {
      express: dev('express', 'express'),
      koa: manager === 'npm' ? oldestPeer('koa', 'koa') : dev('koa', 'koa'),
      hono: dev('hono', 'hono'),
      '@hono/node-server': dev('hono', '@hono/node-server'),
      ioredis: dev('rate-limit', 'ioredis'),
      zod: dev('validation', 'zod'),
    },
    devDependencies: {
      typescript: declared(manifestOf(root).devDependencies, 'typescript'),
      '@types/node': declared(manifestOf(root).devDependencies, '@types/node'),
      '@types/express': dev('express', '@types/express'),
      '@types/koa': manager === 'npm' ? oldestPeer('koa', '@types/koa') : dev('koa', '@types/koa'),
    },
  };
};

/** A fresh app in os.tmpdir(): the fixture's sources, a package.json asking for every package by version. */
const createApp = (manager: Manager): string => {
  const dir = join(work, `app-${manager}`);
  cpSync(fixture, dir, { recursive: true });
  const { dependencies, devDependencies } = thirdParty(manager);
  const apigate = Object.fromEntries(packed.map((pkg) => [pkg.name, `^${pkg.version}`]));
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: `apigate-consumer-${manager}`, private: true, type: 'module', dependencies: { ...apigate, ...dependencies }, devDependencies }, null, 2)}\n`,
  );
  const npmrc = [`@apigate:registry=${registry!.url}/`, 'engine-strict=true'];
  // npm: a peer range that cannot be met fails the install. pnpm: the same, and each package sees
  // only what it declares: no hoisting, and the packages' real paths outside the app, so that
  // resolving from inside one never walks up into the app's node_modules (where the app's own
  // dependencies, every @apigate package among them, would hide an undeclared one).
  const isolated = [`virtual-store-dir=${join(work, `virtual-store-${manager}`)}`, 'hoist=false', 'strict-peer-dependencies=true'];
  npmrc.push(...(manager === 'npm' ? ['strict-peer-deps=true'] : isolated));
  writeFileSync(join(dir, '.npmrc'), `${npmrc.join('\n')}\n`);
  return dir;
};

interface Running {
  readonly child: ChildProcess;
  readonly express: number;
  readonly hono: number;
  readonly entries: Record<string, number>;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const startApp = (dir: string, timeoutMs = 60_000): Promise<Running> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/main.ts'], { cwd: dir, env: { ...cleanEnv(), UPSTREAM: upstream!.origin }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the app printed no ready line within ${timeoutMs / 1000} s:\n${output}`));
    }, timeoutMs);
    const collect = (chunk: Buffer): void => {
      output += chunk.toString();
      const ready = /^ready (.*)$/m.exec(output);
      if (!ready) return;
      clearTimeout(timer);
      const { express, hono, entries } = JSON.parse(ready[1]!) as { express: string; hono: string; entries: Record<string, number> };
      resolve({ child, express: Number(new URL(express).port), hono: Number(new URL(hono).port), entries, output: () => output, exited });
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the app exited before it was ready (code ${code}, signal ${signal}):\n${output}`));
    });
  });

/**
 * tsc errors in third-party declarations that are not apigate's to fix, and the only ones let
 * through. Under npm's hoisting, @types/koa's `import * as contentDisposition from
 * 'content-disposition'` finds express 5's content-disposition 2, whose own types have no
 * `Options`, instead of @types/content-disposition (pnpm gives each package its own).
 */
const knownThirdParty: Record<Manager, RegExp[]> = {
  npm: [/^node_modules\/@types\/koa\/index\.d\.ts\(\d+,\d+\): error TS2694: Namespace '"[^"]*\/node_modules\/content-disposition\/dist\/index"' has no exported member 'Options'\.$/],
  pnpm: [],
};

const installs: Record<Manager, string[]> = {
  npm: ['install', '--no-audit', '--no-fund'],
  pnpm: ['install'],
};

describe.each<Manager>(['npm', 'pnpm'])('an app outside the workspace, installed with %s', (manager) => {
  let dir = '';
  let app: Running | undefined;

  beforeAll(async () => {
    dir = createApp(manager);
    await succeed(manager, installs[manager], dir);
  }, 600_000);

  afterAll(() => {
    if (app && app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGKILL');
  });

  it('installed every @apigate package from the registry, by name and version', () => {
    for (const pkg of packed) {
      expect(manifestOf(join(dir, 'node_modules', pkg.name)).version).toBe(pkg.version);
      expect(registry!.asked).toContain(pkg.name);
    }
  });

  // fixture/tsconfig.json: strict as app templates write it; tsconfig.exact.json adds
  // exactOptionalPropertyTypes; tsconfig.node.json also drops the DOM lib (every entry but Hono's).
  it.each(['tsconfig.json', 'tsconfig.exact.json', 'tsconfig.node.json'])('typechecks strictly, with skipLibCheck off (%s)', async (config) => {
    const { code, output } = await run(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '-p', config], dir);
    const errors = output.split('\n').filter((line) => line.trim() !== '' && !knownThirdParty[manager].some((known) => known.test(line)));
    expect(errors).toEqual([]);
    if (knownThirdParty[manager].length === 0) expect(code).toBe(0);
  }, 300_000);

  describe('started', () => {
    beforeAll(async () => {
      app = await startApp(dir);
    }, 90_000);

    it('loads every public entry of every package', () => {
      const exportsMaps = packed.flatMap((pkg) =>
        Object.keys((pkg.manifest.exports ?? {}) as Record<string, unknown>)
          .filter((entry) => !entry.includes('*') && entry !== './package.json')
          .map((entry) => pkg.name + entry.slice(1)),
      );
      expect(Object.keys(app!.entries).sort()).toEqual(exportsMaps.sort());
      for (const [entry, count] of Object.entries(app!.entries)) expect([entry, count > 0]).toEqual([entry, true]);
    });

    describe.each(['express', 'hono'] as const)('%s', (adapter) => {
      const port = (): number => app![adapter];

      it("answers the app's own route from the framework", async () => {
        const reply = await send(port(), '/');
        expect(reply.status).toBe(200);
        expect(reply.json()).toEqual({ app: adapter });
      });

      it('forwards a template route to the upstream, rewritten, with the hook header', async () => {
        const reply = await send(port(), '/api/items/42?x=1');
        expect(reply.status).toBe(200);
        const seen = reply.json<Echo>();
        expect(seen.url).toBe('/v1/items/42?x=1');
        expect(seen.headers['x-item']).toBe('42 true');
      });

      it('validates a JSON body and sends the mapped body upstream', async () => {
        const reply = await send(port(), '/api/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sku":"A-1","qty":2}' });
        expect(reply.status).toBe(200);
        const seen = reply.json<Echo>();
        expect([seen.method, seen.url]).toEqual(['POST', '/orders']);
        expect(JSON.parse(seen.body)).toEqual({ lines: [{ sku: 'A-1', quantity: 2 }], typed: true });
      });

      it('refuses an invalid body with 422 validation_failed, without reaching the upstream', async () => {
        const before = upstream!.seen.length;
        const reply = await send(port(), '/api/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sku":"","qty":0}' });
        expect(reply.status).toBe(422);
        expect(reply.json<{ error: { code: string } }>().error.code).toBe('validation_failed');
        expect(upstream!.seen.length).toBe(before);
      });

      it('refuses a parameter that would escape the rewrite with 400 invalid_path, without reaching the upstream', async () => {
        const before = upstream!.seen.length;
        const reply = await send(port(), '/api/items/..%2Fadmin');
        expect(reply.status).toBe(400);
        expect(reply.json<{ error: { code: string } }>().error.code).toBe('invalid_path');
        expect(upstream!.seen.length).toBe(before);
      });
    });

    it('stops on SIGTERM with exit code 0, nothing printed but the ready line', async () => {
      app!.child.kill('SIGTERM');
      expect(await app!.exited).toEqual({ code: 0, signal: null });
      expect(app!.output().trim().split('\n')).toHaveLength(1);
    }, 30_000);
  });
});
