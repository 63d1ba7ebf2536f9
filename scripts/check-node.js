// Refuses a Node.js older than the root package.json's `engines.node` with one line that names the
// version needed and how to get it. Runs first in `npm ci`/`npm install` (preinstall) and in every npm
// script of every manifest of the repository (test/quickstart/node-version.test.ts checks each), so an
// old Node fails here instead of with ERR_UNKNOWN_FILE_EXTENSION, `sh: 1: tsc: not found` (npm ci
// refused, so nothing is installed) or a wall of EBADENGINE warnings. Plain JavaScript on purpose: it has to parse and run on the old Node it refuses.
// Optional chaining is as new as it gets here (Node 14). `--quiet` only sets the exit code (.ci/run uses it to decide whether to provision Node).
import { readFileSync } from 'node:fs';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const range = String(manifest.engines?.node ?? '');
const wanted = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range);
if (!wanted) {
  process.stderr.write(`scripts/check-node.js: root package.json engines.node must be ">=MAJOR.MINOR", not "${range}"\n`);
  process.exit(2);
}
const need = [Number(wanted[1]), Number(wanted[2] ?? 0), Number(wanted[3] ?? 0)];
const have = process.versions.node.split('.').map(Number);

let older = false;
for (let i = 0; i < 3; i++) {
  if (have[i] !== need[i]) {
    older = have[i] < need[i];
    break;
  }
}

if (older) {
  if (!process.argv.includes('--quiet')) {
    process.stderr.write(
      `reloadscope needs Node.js >= ${need.join('.')} (it runs .ts files natively); you have ${process.versions.node}. ` +
        'Get Node 24 from the npm registry: npm install --prefix ~/.cache/reloadscope/node24 node@24 && ' +
        'export PATH=~/.cache/reloadscope/node24/node_modules/.bin:$PATH\n',
    );
  }
  process.exit(1);
}
