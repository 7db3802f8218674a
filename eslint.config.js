import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['node:*', 'fs', 'http', 'https', 'net', 'tls', 'stream', 'crypto', 'buffer', 'events', 'url', 'zlib', 'os', 'path', 'child_process', 'util'];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Runtime-neutral packages: they must bundle for workerd, Deno and Bun.
    files: ['packages/{errors,core,validation,policies}/src/**/*.ts', 'packages/proxy/src/*.ts', 'packages/proxy/src/fetch/**/*.ts', 'packages/hono/src/*.ts'],
    ignores: ['**/*.test.ts', '**/test-utils/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: nodeBuiltins, message: 'Runtime-neutral packages import no Node built-in; Node code lives in @apigate/proxy/node and the Node adapters.' }] }],
    },
  },
  {
    // Adapters and apps use packages' public entries only.
    files: ['packages/{express,koa,hono}/src/**/*.ts', 'apps/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@apigate/*/internal/*', '@apigate/*/src/*', '../../packages/*'], message: 'Import the package entry (e.g. @apigate/core), not its internals.' }] }],
    },
  },
);
