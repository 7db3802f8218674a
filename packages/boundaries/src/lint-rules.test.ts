import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';

// The workspace's own eslint.config.js, as `pnpm lint` runs it; file paths are relative to the root.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const eslint = new ESLint({ cwd: root });

/** The import-boundary messages ESLint gives `code` as if it were the file at `filePath`. */
const boundaryMessages = async (filePath: string, code: string): Promise<string[]> => {
  const [result] = await eslint.lintText(code, { filePath, warnIgnored: true });
  return result!.messages.filter((message) => message.ruleId === 'no-restricted-imports' || message.ruleId === 'apigate/no-package-escape').map((message) => message.message);
};

/** A module that imports `specifier` and uses it, so that no other rule has anything to say. */
const importing = (specifier: string): string => `import * as imported from '${specifier}';\nexport const used = imported;\n`;

describe('import boundaries (eslint.config.js)', () => {
  it.each([
    ['packages/errors/src/codes.ts', '@apigate/core', '@apigate/errors may import no @apigate package'],
    ['packages/core/src/gateway.ts', '@apigate/proxy', '@apigate/core may import only @apigate/errors'],
    ['packages/validation/src/routes.ts', '@apigate/policies', '@apigate/validation may import only @apigate/core, @apigate/errors'],
    ['packages/policies/src/policy.ts', '@apigate/validation', '@apigate/policies may import only @apigate/core, @apigate/errors'],
    ['packages/auth/src/jwt/jwt.ts', '@apigate/validation', '@apigate/auth may import only @apigate/core, @apigate/errors'],
    ['packages/auth/src/jwt/jwt.ts', '@apigate/proxy', '@apigate/auth may import only @apigate/core, @apigate/errors'],
    ['packages/proxy/src/node/bridge.ts', '@apigate/validation', '@apigate/proxy may import only @apigate/core, @apigate/errors'],
    ['packages/proxy/src/fetch/handler.ts', '@apigate/express', '@apigate/proxy may import only @apigate/core, @apigate/errors'],
    ['packages/express/src/index.ts', '@apigate/demo', '@apigate/express may import only @apigate/errors, @apigate/core'],
    ['packages/rate-limit/src/rate-limit.ts', '@apigate/proxy', '@apigate/rate-limit may import only @apigate/core, @apigate/errors'],
    ['packages/rate-limit/src/redis/redis-store.ts', '@apigate/validation', '@apigate/rate-limit may import only @apigate/core, @apigate/errors'],
  ])('%s may not import %s, which comes after it', async (filePath, specifier, expected) => {
    const messages = await boundaryMessages(filePath, importing(specifier));
    expect(messages).toEqual([expect.stringContaining(expected)]);
    expect(messages[0]).toContain("a package imports only what comes before it in DESIGN.md's list");
  });

  it.each([
    ['packages/express/src/index.ts', '@apigate/koa'],
    ['packages/koa/src/index.ts', '@apigate/hono/node'],
    ['packages/hono/src/node/index.ts', '@apigate/express'],
  ])('adapter %s may not import the adapter %s', async (filePath, specifier) => {
    expect(await boundaryMessages(filePath, importing(specifier))).toEqual([
      expect.stringMatching(/^.*Adapters do not import each other: code that two adapters share belongs in @apigate\/proxy\/node \(Node\) or @apigate\/core \(neutral\)/),
    ]);
  });

  it.each([
    ['packages/express/src/index.ts', '@apigate/core/src/gateway.ts'],
    ['packages/proxy/src/node/bridge.ts', '@apigate/core/internal/match'],
    ['apps/demo/src/main.ts', '@apigate/validation/src/input.ts'],
    ['apps/conformance/test/adapters.ts', '@apigate/proxy/dist/index.js'],
  ])('%s may not import the deep path %s', async (filePath, specifier) => {
    expect(await boundaryMessages(filePath, importing(specifier))).toEqual([expect.stringContaining("Import the package's public entry (@apigate/core, @apigate/proxy/node, …), not its src/, internal/ or dist/ files")]);
  });

  it.each([
    ['apps/demo/src/main.ts', '../../../packages/core/src/index.ts'],
    ['apps/examples/hono-node/src/main.ts', '../../express-basic/src/main.ts'],
    ['packages/express/src/index.ts', '../../proxy/src/node/index.ts'],
  ])('%s may not reach into another workspace folder with %s', async (filePath, specifier) => {
    expect(await boundaryMessages(filePath, importing(specifier))).toEqual([expect.stringContaining('reaches into another workspace folder: import that package by its name and public entry')]);
  });

  it('published sources may not import the private test helpers', async () => {
    expect(await boundaryMessages('packages/koa/src/index.ts', importing('@apigate/test-utils/http'))).toEqual([
      expect.stringContaining('@apigate/test-utils is private and not published: only tests'),
    ]);
  });

  it.each([
    ['packages/errors/src/renderers.ts', 'node:buffer'],
    ['packages/core/src/gateway.ts', 'events'],
    ['packages/validation/src/json.ts', 'fs/promises'],
    ['packages/policies/src/consistent-hash/consistent-hash.ts', 'node:crypto'],
    ['packages/core/src/exchange/headers.ts', 'net'],
    ['packages/proxy/src/fetch/body.ts', 'node:stream/web'],
    ['packages/hono/src/index.ts', 'node:http'],
    ['packages/auth/src/internal/keys.ts', 'node:crypto'],
    ['packages/rate-limit/src/rate-limit.ts', 'node:timers'],
    ['packages/rate-limit/src/internal/ip.ts', 'node:net'],
  ])('the runtime-neutral %s may not import the Node built-in %s', async (filePath, specifier) => {
    expect(await boundaryMessages(filePath, importing(specifier))).toEqual([expect.stringContaining('Runtime-neutral code imports no Node built-in (it bundles for workerd, Deno and Bun)')]);
  });

  it.each([
    ['packages/hono/src/index.ts', '@apigate/proxy/node'],
    ['packages/proxy/src/fetch/handler.ts', 'http-proxy-3'],
    ['packages/hono/src/index.ts', '@hono/node-server'],
    ['packages/rate-limit/src/index.ts', 'ioredis'],
    ['packages/rate-limit/src/index.ts', '@apigate/rate-limit/redis'],
  ])('the runtime-neutral %s may not import the Node-only %s', async (filePath, specifier) => {
    expect(await boundaryMessages(filePath, importing(specifier))).toEqual([expect.stringContaining('Runtime-neutral code imports no Node-only package: a neutral entry uses @apigate/proxy (the fetch transport)')]);
  });

  it('a type-only import is held to the same rules', async () => {
    const messages = await boundaryMessages('packages/core/src/request.ts', "import type { IncomingMessage } from 'node:http';\nexport type Raw = IncomingMessage;\n");
    expect(messages).toEqual([expect.stringContaining('Runtime-neutral code imports no Node built-in')]);
  });

  // The other half: the rules stop where DESIGN.md does, or every file of the workspace would fail.
  it.each([
    ['packages/core/src/gateway.ts', '@apigate/errors'],
    ['packages/validation/src/routes.ts', '@apigate/core'],
    ['packages/proxy/src/node/bridge.ts', 'node:http'],
    ['packages/proxy/src/node/transport.ts', 'http-proxy-3'],
    ['packages/hono/src/node/index.ts', '@apigate/proxy/node'],
    ['packages/hono/src/node/index.ts', 'node:http'],
    ['packages/hono/src/index.ts', '@apigate/proxy'],
    ['packages/express/src/index.ts', '@apigate/validation'],
    ['packages/auth/src/jwt/jwt.ts', '@apigate/core'],
    ['packages/auth/src/internal/keys.ts', 'jose'],
    ['packages/policies/src/round-robin/index.ts', '@apigate/policies/no-key'],
    ['apps/conformance/src/gateway.ts', '@apigate/hono/node'],
    ['packages/hono/src/node/index.ts', '../index.ts'],
    ['packages/express/jest.config.ts', '../../jest.preset.js'],
    ['packages/rate-limit/src/rate-limit.ts', '@apigate/core'],
    ['packages/rate-limit/src/redis/redis-store.ts', 'ioredis'],
    ['packages/rate-limit/src/redis/redis-store.ts', 'node:timers'],
  ])('%s may import %s', async (filePath, specifier) => {
    expect(await boundaryMessages(filePath, importing(specifier))).toEqual([]);
  });

  it.each([
    ['packages/validation/test/helpers.ts', '@apigate/express'],
    ['packages/core/src/gateway.test.ts', 'node:http'],
    ['packages/policies/src/test-utils/index.ts', '@apigate/test-utils/http'],
    ['packages/errors/src/codes.test.ts', '@apigate/core'],
  ])('tests may mount through any package and use Node: %s imports %s', async (filePath, specifier) => {
    expect(await boundaryMessages(filePath, importing(specifier))).toEqual([]);
  });
});
