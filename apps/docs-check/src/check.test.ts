import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { extractBlocks } from './blocks.ts';
import { checkBlocks, preludeExports, topLevelNames } from './check.ts';
import { root } from './docs.ts';

const preludeDir = mkdtempSync(join(tmpdir(), 'apigate-docs-preludes-'));
afterAll(() => rmSync(preludeDir, { recursive: true, force: true }));
writeFileSync(join(preludeDir, 'app.ts'), "import type { Gateway } from '@apigate/core';\nexport declare const gateway: Gateway;\nexport type Port = number;\nexport const port: Port = 8080;\n");
writeFileSync(join(preludeDir, 'broken.ts'), 'export const n: number = "one";\n');

const check = (markdown: string) => {
  const { blocks } = extractBlocks('docs/x.md', markdown);
  const errors = checkBlocks({ blocks, preludeDir, nodeModules: join(root, 'apps/docs-check/node_modules'), tsconfig: join(root, 'tsconfig.base.json') });
  return blocks.map((block) => (errors.get(block) ?? []).map(({ file, line, code }) => `${file}:${line} TS${code}`));
};

describe('checkBlocks', () => {
  it('reports an error at its line in the markdown file, and passes a correct block', () => {
    expect(
      check(['# x', '', '```ts', "import { createGateway } from '@apigate/core';", '', "createGateway({ renderer: 'xml' });", '```', '```ts', 'export const ok = 1;', '```'].join('\n')),
    ).toEqual([['docs/x.md:6 TS2322'], []]);
  });

  it('checks strictly: an implicit any is an error', () => {
    expect(check(['```ts', 'export const f = (x) => x;', '```'].join('\n'))).toEqual([['docs/x.md:2 TS7006']]);
  });

  it('gives an excerpt what its prelude exports, values and types, except the names the block declares', () => {
    expect(check(['<!-- excerpt: app -->', '```ts', 'const port = 3000;', 'const p: Port = port;', 'gateway.routes();', 'void p;', '```'].join('\n'))).toEqual([[]]);
    expect(check(['```ts', 'gateway.routes();', '```'].join('\n'))).toEqual([['docs/x.md:2 TS2304']]);
  });

  it("reports an unknown prelude at the marker, and a prelude's own error", () => {
    const [unknown] = check(['<!-- excerpt: nope -->', '```ts', 'export {};', '```'].join('\n'));
    expect(unknown).toEqual(['docs/x.md:1 TS0']);
    const [broken] = check(['<!-- excerpt: broken -->', '```ts', 'n;', '```'].join('\n'));
    expect(broken).toEqual([`${join(preludeDir, 'broken.ts')}:1 TS2322`]);
  });
});

describe('topLevelNames and preludeExports', () => {
  it('read imports, declarations and destructured names', () => {
    expect([...topLevelNames("import a, { b as c, type D } from 'x';\nimport * as e from 'y';\nconst { f, g: [h] } = z;\nfunction i() {}\ninterface J {}\ndeclare const k: 1, l: 2;")].sort()).toEqual(['D', 'a', 'c', 'e', 'f', 'h', 'i', 'J', 'k', 'l'].sort());
  });

  it('mark interfaces, type aliases and type-only re-exports as types', () => {
    expect(Object.fromEntries(preludeExports("export { a, type B } from 'x';\nexport type { C } from 'y';\nexport interface D {}\nexport type E = 1;\nexport declare const f: 1;\nconst hidden = 1;"))).toEqual({
      a: 'value',
      B: 'type',
      C: 'type',
      D: 'type',
      E: 'type',
      f: 'value',
    });
  });
});
