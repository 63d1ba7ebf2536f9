// Regenerates the README's generated blocks. Usage: node scripts/gen-readme.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { withGenerated } from './readme-blocks.ts';

const root = new URL('../', import.meta.url);
const path = new URL('README.md', root);
const current = readFileSync(path, 'utf8');
const next = withGenerated(current, root);
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('README.md is stale (metric table or snippets): run `npm run docs`');
    process.exit(1);
  }
  console.log('README.md generated blocks are up to date');
} else if (next !== current) {
  writeFileSync(path, next);
  console.log('README.md generated blocks regenerated');
} else {
  console.log('README.md generated blocks already up to date');
}
