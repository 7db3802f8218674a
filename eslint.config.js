import { builtinModules } from 'node:module';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The direction of imports (DESIGN.md, "Packages and the direction of imports") as lint rules:
// each published package may import only the @apigate packages that come before it. Flat config
// replaces a rule's options per file rather than merging them, so every folder gets one
// no-restricted-imports entry holding all the patterns that apply to it.

const root = dirname(fileURLToPath(import.meta.url));
const order = 'errors → core → validation, policies → auth, rate-limit → proxy → express, koa, hono → apps';
const adapters = ['express', 'koa', 'hono'];

/** What each published package may import from the workspace, and where shared code goes instead. */
const layers = {
  errors: { allowed: [], instead: 'It is the first of the list: code it needs belongs in it.' },
  core: { allowed: ['errors'], instead: 'Move what both need into @apigate/errors, or have the caller pass it in.' },
  validation: { allowed: ['core', 'errors'], instead: 'Move what both need into @apigate/core (e.g. beside RouteInput), or have the caller pass it in.' },
  policies: { allowed: ['core', 'errors'], instead: 'Policies see the gateway only through @apigate/core (Policy, Backend, PolicyRequest); move what both need there.' },
  auth: { allowed: ['core', 'errors'], instead: 'Middleware packages see the gateway only through @apigate/core (Middleware, RequestContext) and raise @apigate/errors; they share with each other only scope types.' },
  'rate-limit': { allowed: ['core', 'errors'], instead: 'Middleware packages see the gateway only through @apigate/core and @apigate/errors, and each other only through scope types (DESIGN.md).' },
  proxy: { allowed: ['core', 'errors'], instead: 'Transports implement the port in @apigate/core and need nothing else: what a transport needs from validation or policies goes through core.' },
  express: { allowed: ['errors', 'core', 'validation', 'policies', 'proxy'], instead: 'Adapters translate I/O over @apigate/proxy and @apigate/core; apps and test helpers sit above them.' },
  koa: { allowed: ['errors', 'core', 'validation', 'policies', 'proxy'], instead: 'Adapters translate I/O over @apigate/proxy and @apigate/core; apps and test helpers sit above them.' },
  hono: { allowed: ['errors', 'core', 'validation', 'policies', 'proxy'], instead: 'Adapters translate I/O over @apigate/proxy and @apigate/core; apps and test helpers sit above them.' },
};

const names = (list) => list.join('|');
const builtinNames = builtinModules.filter((name) => !name.includes('/')).map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

const deepImport = {
  regex: '^@apigate/[^/]+/(?:src|internal|dist)(?:/|$)',
  message: "Import the package's public entry (@apigate/core, @apigate/proxy/node, …), not its src/, internal/ or dist/ files: what an entry does not export is not API.",
};
const testUtils = {
  regex: '^@apigate/test-utils(?:/|$)',
  message: '@apigate/test-utils is private and not published: only tests (*.test.ts, test/, src/test-utils/) import it.',
};
const nodeBuiltin = {
  regex: `^(?:node:.*|(?:${names(builtinNames)})(?:/.*)?)$`,
  message: 'Runtime-neutral code imports no Node built-in (it bundles for workerd, Deno and Bun): Node code lives in @apigate/proxy/node, the Node adapters and explicit Node subpaths.',
};
const nodeOnly = {
  regex: '^(?:@apigate/(?:proxy|hono)/node|@apigate/rate-limit/redis|@hono/node-server|http-proxy-3|ioredis)(?:/|$)',
  message: 'Runtime-neutral code imports no Node-only package: a neutral entry uses @apigate/proxy (the fetch transport), Node code lives in @apigate/proxy/node, @apigate/hono/node and @apigate/rate-limit/redis.',
};

/** The patterns for one published package's sources. */
const direction = (name) => {
  const { allowed, instead } = layers[name];
  const sideways = adapters.includes(name) ? adapters.filter((other) => other !== name) : [];
  const patterns = [deepImport, testUtils];
  if (sideways.length > 0) {
    patterns.push({
      regex: `^@apigate/(?:${names(sideways)})(?:/|$)`,
      message: `Adapters do not import each other: code that two adapters share belongs in @apigate/proxy/node (Node) or @apigate/core (neutral), and @apigate/${name} imports it from there.`,
    });
  }
  const known = [...allowed, name, 'test-utils', ...sideways];
  const may = allowed.length === 0 ? 'no @apigate package' : `only ${allowed.map((pkg) => `@apigate/${pkg}`).join(', ')}`;
  patterns.push({
    regex: `^@apigate/(?!(?:${names(known)})(?:/|$))`,
    message: `@apigate/${name} may import ${may}: a package imports only what comes before it in DESIGN.md's list (${order}). ${instead}`,
  });
  return patterns;
};

const restrict = (patterns) => ['error', { patterns }];

/**
 * Resolves a relative specifier against the importing file and reports it when it lands in another
 * workspace package or app (shared root files such as jest.preset.js are fine).
 */
const noPackageEscape = {
  meta: {
    type: 'problem',
    messages: {
      escape: "'{{source}}' reaches into another workspace folder: import that package by its name and public entry (@apigate/core, @apigate/proxy/node, …) and declare it in package.json.",
    },
    schema: [],
  },
  create(context) {
    const workspaceOf = (path) => /^(apps\/examples\/[^/]+|apps\/(?!examples\/)[^/]+|packages\/[^/]+)(?:\/|$)/.exec(relative(root, path).split(sep).join('/'))?.[1];
    const home = workspaceOf(context.filename);
    if (home === undefined) return {};
    const check = (node) => {
      const source = node?.value;
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = workspaceOf(resolve(dirname(context.filename), source));
      if (target !== undefined && target !== home) context.report({ node, messageId: 'escape', data: { source } });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};

const tests = ['**/*.test.ts', '**/*.test-d.ts', '**/test-utils/**', '**/test/**'];
const neutral = {
  // Runtime-neutral entries: everything of the package but its Node subpath.
  proxy: ['packages/proxy/src/*.ts', 'packages/proxy/src/fetch/**/*.ts'],
  hono: ['packages/hono/src/*.ts'],
  // The main entry; the Redis store (src/redis/) is the Node-only subpath.
  'rate-limit': ['packages/rate-limit/src/*.ts', 'packages/rate-limit/src/internal/**/*.ts'],
};
const allNeutral = ['errors', 'core', 'validation', 'policies', 'auth'];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { apigate: { rules: { 'no-package-escape': noPackageEscape } } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests, test helpers and apps: any package, through its public entries only.
    files: ['packages/**/*.ts', 'apps/**/*.ts'],
    rules: {
      'apigate/no-package-escape': 'error',
      'no-restricted-imports': restrict([deepImport]),
    },
  },
  ...Object.keys(layers).map((name) => ({
    files: [`packages/${name}/src/**/*.ts`],
    ignores: tests,
    rules: { 'no-restricted-imports': restrict([...direction(name), ...(allNeutral.includes(name) ? [nodeBuiltin, nodeOnly] : [])]) },
  })),
  ...Object.entries(neutral).map(([name, files]) => ({
    files,
    ignores: tests,
    rules: { 'no-restricted-imports': restrict([...direction(name), nodeBuiltin, nodeOnly]) },
  })),
);
