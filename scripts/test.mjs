// Runs every package's jest suite through turbo, then prints one closing line that CI reads:
// `tests: N passed, N failed`. Each package's jest writes its --json results to
// .jest-results.json; a package whose run left no results counts as one failure.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
// The folders of pnpm-workspace.yaml's globs (packages/*, apps/*, apps/examples/*).
const workspaces = ['packages', 'apps', 'apps/examples'].flatMap((dir) =>
  readdirSync(join(root, dir), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(root, dir, entry.name)),
);
const withTests = workspaces.filter((dir) => {
  const manifest = join(dir, 'package.json');
  return existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).scripts?.test;
});
for (const dir of withTests) rmSync(join(dir, '.jest-results.json'), { force: true });

const run = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', '--continue'], {
  cwd: root,
  stdio: 'inherit',
});

let passed = 0;
let failed = 0;
for (const dir of withTests) {
  const file = join(dir, '.jest-results.json');
  if (!existsSync(file)) {
    console.error(`no test results from ${dir}`);
    failed += 1;
    continue;
  }
  const result = JSON.parse(readFileSync(file, 'utf8'));
  passed += result.numPassedTests;
  failed += result.numFailedTests + result.numRuntimeErrorTestSuites;
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
