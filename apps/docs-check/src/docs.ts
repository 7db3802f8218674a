import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { extractBlocks, type DocBlock, type MarkerProblem } from './blocks.ts';
import { checkBlocks, type BlockError } from './check.ts';

export const root = new URL('../../../', import.meta.url).pathname;
const app = new URL('../', import.meta.url).pathname;

/** README.md and every docs/*.md, relative to the repository root. */
export const docFiles = (): string[] => [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];

export interface DocsReport {
  readonly blocks: readonly DocBlock[];
  readonly problems: readonly MarkerProblem[];
  readonly errors: ReadonlyMap<DocBlock, readonly BlockError[]>;
}

/** Extracts and typechecks the ts blocks of `files` (default: all the docs). */
export const checkDocs = (files: readonly string[] = docFiles()): DocsReport => {
  const blocks: DocBlock[] = [];
  const problems: MarkerProblem[] = [];
  for (const file of files) {
    const found = extractBlocks(file, readFileSync(join(root, file), 'utf8'));
    blocks.push(...found.blocks);
    problems.push(...found.problems);
  }
  const errors = checkBlocks({
    blocks,
    preludeDir: join(app, 'preludes'),
    nodeModules: join(app, 'node_modules'),
    tsconfig: join(root, 'tsconfig.base.json'),
    root,
  });
  return { blocks, problems, errors };
};

/** How to fix or mark a failing block: every failure message ends with it. */
export const howTo = [
  'A ```ts block must typecheck as a module of its own (strict, the workspace tsconfig.base.json). Either:',
  '  - complete it: its imports, and `declare const x: T;` for what the reader supplies (their own client, a database), or',
  '  - mark it as an excerpt, on the line right before the fence, naming the preludes that supply its context:',
  '      <!-- excerpt: core, gateway -->',
  '    Preludes are the files of apps/docs-check/preludes/ (core, validation, gateway, express-app, …);',
  '    add one there when none fits. A signature is written as a declaration: `declare function f(a: A): R;`.',
  '  Details: apps/docs-check/README.md.',
].join('\n');

/** What a failing block's test says: where the block is (its fence), and each error at its line. */
export const describeFailure = (block: DocBlock, errors: readonly BlockError[]): string =>
  [
    `${block.file}:${block.line}: ts block ${block.index} of ${block.file}${block.preludes.length > 0 ? ` (an excerpt, preludes: ${block.preludes.join(', ')})` : ' (complete: no excerpt marker)'} does not typecheck:`,
    ...errors.map((error) => `  ${error.file}:${error.line}: ${error.code === 0 ? '' : `TS${error.code}: `}${error.message.split('\n').join('\n    ')}`),
  ].join('\n');
