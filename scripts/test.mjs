// Runs every package's jest suite through turbo, then prints one closing line that CI reads:
// `tests: N passed, N failed`. Each package's jest writes its --json results to
// .jest-results.json (a package that runs jest twice, as the conformance suite does on each Node
// transport, writes .jest-results.<run>.json for the other runs); a package whose run left no
// results counts as one failure.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

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
/** The --json result files a package's test run wrote. */
const resultFiles = (dir) => readdirSync(dir).filter((name) => /^\.jest-results(\.[\w-]+)?\.json$/.test(name));
for (const dir of withTests) for (const name of resultFiles(dir)) rmSync(join(dir, name), { force: true });

// A bound on the whole run, far above its usual length (about 10 minutes on two busy cores): a
// suite that cannot end (a process its tests started and never stopped, say) fails the run here,
// named, instead of holding CI until its own limit.
const limitMinutes = Number(process.env.APIGATE_TEST_LIMIT_MINUTES ?? 40);
// In a process group of its own, so that the whole of it (turbo, pnpm, jest and whatever the
// suites started) can be stopped; a Ctrl-C or a CI's TERM is passed on to it.
const turbo = spawn('pnpm', ['exec', 'turbo', 'run', 'test', '--continue'], { cwd: root, stdio: 'inherit', detached: true });
const signalGroup = (signal) => {
  try {
    process.kill(-turbo.pid, signal);
  } catch {
    // The group has ended already.
  }
};
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => signalGroup(signal));
let overran = false;
const limit = setTimeout(() => {
  overran = true;
  const waiting = withTests.filter((dir) => !existsSync(join(dir, '.jest-results.json')));
  console.error(`tests: still running after ${limitMinutes} minutes (no results yet from: ${waiting.map((dir) => relative(root, dir)).join(', ') || 'none; a suite did not exit after its tests'}); stopping them`);
  signalGroup('SIGTERM');
  setTimeout(() => signalGroup('SIGKILL'), 10_000).unref();
}, limitMinutes * 60_000);
const status = await new Promise((resolve) => turbo.on('exit', (code) => resolve(code ?? 1)));
clearTimeout(limit);

let passed = 0;
let failed = 0;
for (const dir of withTests) {
  if (!existsSync(join(dir, '.jest-results.json'))) {
    console.error(`no test results from ${dir}`);
    failed += 1;
  }
  for (const name of resultFiles(dir)) {
    const result = JSON.parse(readFileSync(join(dir, name), 'utf8'));
    passed += result.numPassedTests;
    failed += result.numFailedTests + result.numRuntimeErrorTestSuites;
  }
}
if (overran) failed += 1;
// A task that failed without a failed test in its results (a jest run that wrote none, a script
// that broke) is still a failure: the closing line must not say 0 failed then.
if (status !== 0 && failed === 0) {
  console.error('tests: a task failed without reporting a failed test (see its output above)');
  failed += 1;
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(status === 0 && failed === 0 ? 0 : 1);
