import { describe, expect, it } from '@jest/globals';
import { extractBlocks } from './blocks.ts';

const md = (...lines: string[]) => lines.join('\n');

describe('extractBlocks', () => {
  it('finds ts blocks with the line of their fence, and skips other languages', () => {
    const { blocks, problems } = extractBlocks(
      'docs/x.md',
      md('# x', '', '```sh', 'pnpm test', '```', '', '```ts', "const a = 1;", '```', '', '```typescript', 'const b = 2;', '```'),
    );
    expect(problems).toEqual([]);
    expect(blocks.map(({ line, index, code, preludes }) => ({ line, index, code, preludes }))).toEqual([
      { line: 7, index: 1, code: 'const a = 1;', preludes: [] },
      { line: 11, index: 2, code: 'const b = 2;', preludes: [] },
    ]);
  });

  it('reads the preludes of an excerpt marker before the fence, blank lines between allowed', () => {
    const { blocks, problems } = extractBlocks('docs/x.md', md('<!-- excerpt: core, gateway -->', '', '```ts', 'gateway;', '```', '```ts', 'done;', '```'));
    expect(problems).toEqual([]);
    expect(blocks.map((block) => block.preludes)).toEqual([['core', 'gateway'], []]);
  });

  it('strips the indentation of a fence inside a list item', () => {
    const { blocks } = extractBlocks('docs/x.md', md('- item:', '', '  <!-- excerpt: core -->', '  ```ts', '  if (a) {', '    b();', '  }', '  ```'));
    expect(blocks).toEqual([{ file: 'docs/x.md', line: 4, index: 1, code: 'if (a) {\n  b();\n}', preludes: ['core'] }]);
  });

  it('reports a marker that no ts block follows, one without a prelude, and one split over lines', () => {
    const { blocks, problems } = extractBlocks(
      'docs/x.md',
      md('<!-- excerpt: core -->', 'Some text.', '```ts', 'a;', '```', '<!-- excerpt: -->', '```ts', 'b;', '```', '<!-- excerpt: core', '-->', '<!-- excerpt: core -->', '```sh', 'ls', '```'),
    );
    expect(blocks.map((block) => block.preludes)).toEqual([[], []]);
    expect(problems.map((problem) => problem.line)).toEqual([1, 6, 10, 12]);
  });

  it('does not take a fence inside a block for the end of it', () => {
    const { blocks } = extractBlocks('docs/x.md', md('````md', '```ts', 'inner;', '```', '````', '```ts', 'outer;', '```'));
    expect(blocks.map((block) => block.code)).toEqual(['outer;']);
  });
});
