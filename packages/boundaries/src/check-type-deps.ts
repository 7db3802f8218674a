// CI, after `pnpm build`: every published package's dist/**/*.d.ts imports only packages it
// declares in dependencies or peerDependencies, so its types resolve when it is installed alone.
// attw checks that a package's own entries resolve, not what their types import.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { missingTypeDependencies } from './type-deps.ts';

const packagesDir = new URL('../../', import.meta.url).pathname;
const published = readdirSync(packagesDir)
  .map((name) => join(packagesDir, name))
  .filter((dir) => existsSync(join(dir, 'package.json')) && JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private !== true);

let problems = 0;
for (const dir of published) {
  for (const { file, specifier, needs } of missingTypeDependencies(dir)) {
    problems += 1;
    console.error(`${join(dir, file)} imports '${specifier}': add ${needs} to dependencies (or peerDependencies for a framework)`);
  }
}
console.log(`type-deps: ${published.length} published packages checked, ${problems} undeclared type imports`);
process.exit(problems === 0 ? 0 : 1);
