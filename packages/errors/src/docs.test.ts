import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { buildProblemCodes, errorStatus } from './index.ts';

// docs/errors.md documents every code; this fails when the code tables and the docs drift apart.
const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

/** The lines under a `## heading`, up to the next heading of any level. */
const section = (heading: string): string[] => {
  const lines = doc.split(/\r?\n/);
  const start = lines.findIndex((line) => line.trim() === `## ${heading}`);
  if (start === -1) throw new Error(`docs/errors.md has no "## ${heading}" section`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('#'));
  return lines.slice(start + 1, end === -1 ? undefined : end);
};

/** Table rows whose first cell is a `code`, with the cells after it. */
const codeRows = (lines: string[]): { code: string; cells: string[] }[] =>
  lines
    .filter((line) => /^\|\s*`[^`]+`\s*\|/.test(line))
    .map((line) => {
      const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
      return { code: cells[0]!.slice(1, -1), cells: cells.slice(1) };
    });

const duplicates = (codes: string[]): string[] => codes.filter((code, i) => codes.indexOf(code) !== i);

describe('docs/errors.md', () => {
  const runtime = codeRows(section('Runtime error codes'));
  const build = codeRows(section('Build problems'));

  it('documents every runtime error code, and no code that does not exist', () => {
    const documented = runtime.map((row) => row.code);
    expect({ missing: Object.keys(errorStatus).filter((code) => !documented.includes(code)), unknown: documented.filter((code) => !Object.hasOwn(errorStatus, code)), duplicates: duplicates(documented) }).toEqual({
      missing: [],
      unknown: [],
      duplicates: [],
    });
  });

  it("gives every runtime code the status of the code's table", () => {
    const documented = Object.fromEntries(runtime.map((row) => [row.code, /^\d{3}$/.test(row.cells[0] ?? '') ? Number(row.cells[0]) : row.cells[0]]));
    const expected = Object.fromEntries(runtime.filter((row) => Object.hasOwn(errorStatus, row.code)).map((row) => [row.code, errorStatus[row.code as keyof typeof errorStatus]]));
    expect(documented).toEqual(expected);
  });

  it('says when each runtime code happens and what the client should do', () => {
    for (const row of runtime) {
      expect({ code: row.code, when: (row.cells[1] ?? '').length > 10, what: (row.cells[2] ?? '').length > 5 }).toEqual({ code: row.code, when: true, what: true });
    }
  });

  it('documents every build problem code, and no code that does not exist', () => {
    const documented = build.map((row) => row.code);
    const known: readonly string[] = buildProblemCodes;
    expect({ missing: known.filter((code) => !documented.includes(code)), unknown: documented.filter((code) => !known.includes(code)), duplicates: duplicates(documented) }).toEqual({
      missing: [],
      unknown: [],
      duplicates: [],
    });
    for (const row of build) expect({ code: row.code, explained: row.cells.every((cell) => cell.length > 5) && row.cells.length === 2 }).toEqual({ code: row.code, explained: true });
  });
});
