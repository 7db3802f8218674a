import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { missingTypeDependencies, packageOf, typeImports } from './type-deps.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A package folder with `manifest` as package.json and `files` (path → text) beside it. */
const fixture = (manifest: object, files: Record<string, string>): string => {
  const dir = mkdtempSync(join(tmpdir(), 'apigate-type-deps-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
};

// What tsc wrote for @apigate/express before its types' imports were declared.
const expressTypes = [
  "import { type Gateway, type Hook } from '@apigate/core';",
  "import type { RendererOption } from '@apigate/errors';",
  "import { renderClientErrors, type NodeTransport } from '@apigate/proxy/node';",
  "import type { IncomingMessage, ServerResponse } from 'node:http';",
  "import type { RequestHandler } from 'express';",
  '/** @example import { serve } from "@hono/node-server" */',
  "export declare const expressGateway: (gateway: Gateway) => RequestHandler & { transport: import('@apigate/proxy/node').NodeTransport };",
  "export { renderClientErrors } from './client-errors.js';",
].join('\n');

describe('typeImports', () => {
  it('reads imports, re-exports, import() types and type references, and nothing from comments', () => {
    expect(typeImports(`/// <reference types="node" />\n${expressTypes}`).sort()).toEqual(
      ['./client-errors.js', '@apigate/core', '@apigate/errors', '@apigate/proxy/node', 'express', 'node:http', 'types:node'].sort(),
    );
  });
});

describe('packageOf', () => {
  it.each([
    ['@apigate/proxy/node', '@apigate/proxy'],
    ['hono/types', 'hono'],
    ['@hono/node-server/utils/response', '@hono/node-server'],
    ['types:express', 'express'],
    ['./index.js', undefined],
    ['node:http', undefined],
    ['stream/web', undefined],
    ['types:node', undefined],
  ])('%s needs %s', (specifier, expected) => {
    expect(packageOf(specifier)).toBe(expected);
  });
});

describe('missingTypeDependencies', () => {
  it('reports a package that the built types import but only devDependencies name', () => {
    const dir = fixture(
      {
        name: '@apigate/express',
        dependencies: { '@apigate/core': 'workspace:*', '@apigate/proxy': 'workspace:*' },
        peerDependencies: { express: '^5.0.0' },
        devDependencies: { '@apigate/errors': 'workspace:*' },
      },
      { 'dist/index.d.ts': expressTypes, 'dist/client-errors.d.ts': "export declare const renderClientErrors: import('node:http').Server;" },
    );
    expect(missingTypeDependencies(dir)).toEqual([{ file: join('dist', 'index.d.ts'), specifier: '@apigate/errors', needs: '@apigate/errors' }]);
  });

  it('accepts dependencies, peer dependencies, @types packages, the package itself and Node built-ins', () => {
    const dir = fixture(
      { name: '@apigate/hono', dependencies: { '@apigate/core': '*' }, peerDependencies: { hono: '*', '@types/koa': '*' } },
      {
        'dist/index.d.ts': "import type { Context } from 'hono';\nimport type { Gateway } from '@apigate/core';",
        'dist/node/index.d.ts': "import type { Middleware } from 'koa';\nexport * from '@apigate/hono';\nimport type { Server } from 'node:http';",
      },
    );
    expect(missingTypeDependencies(dir)).toEqual([]);
  });

  it('looks into nested folders of dist/', () => {
    const dir = fixture({ name: '@apigate/policies' }, { 'dist/least-time/index.d.ts': "import type { Policy } from '@apigate/core';" });
    expect(missingTypeDependencies(dir)).toEqual([{ file: join('dist', 'least-time', 'index.d.ts'), specifier: '@apigate/core', needs: '@apigate/core' }]);
  });

  it('refuses a package that has not been built rather than passing it', () => {
    const dir = fixture({ name: '@apigate/core' }, {});
    expect(() => missingTypeDependencies(dir)).toThrow('@apigate/core has no dist/: build it first (pnpm build)');
  });
});
