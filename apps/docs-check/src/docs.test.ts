import { beforeAll, describe, expect, it } from '@jest/globals';
import { checkDocs, describeFailure, docFiles, howTo, type DocsReport } from './docs.ts';

// One program for every block: extracting is cheap, typechecking the workspace once is not.
let report: DocsReport;
beforeAll(() => {
  report = checkDocs();
}, 300_000);

describe('the ts blocks of README.md and docs/*.md', () => {
  it('are found', () => {
    expect(report.blocks.length).toBeGreaterThan(50);
  });

  it('have no misplaced or malformed excerpt marker', () => {
    const problems = report.problems.map((problem) => `${problem.file}:${problem.line}: ${problem.message}`);
    if (problems.length > 0) throw new Error(`${problems.join('\n')}\n\n${howTo}`);
  });

  // A test per file, so that a failure names the page and the report lists every page that passed.
  it.each(docFiles())('typecheck in %s', (file) => {
    const failures = report.blocks
      .filter((block) => block.file === file)
      .flatMap((block) => {
        const errors = report.errors.get(block) ?? [];
        return errors.length === 0 ? [] : [describeFailure(block, errors)];
      });
    if (failures.length > 0) throw new Error(`${failures.join('\n\n')}\n\n${howTo}`);
  });
});
