// Usage: node scripts/gen-metrics-doc.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { withMetricTable } from './metrics-doc.ts';

const path = new URL('../README.md', import.meta.url);
const current = readFileSync(path, 'utf8');
const next = withMetricTable(current);
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('README.md metric table is stale: run `npm run docs:metrics`');
    process.exit(1);
  }
  console.log('README.md metric table is up to date');
} else if (next !== current) {
  writeFileSync(path, next);
  console.log('README.md metric table regenerated');
} else {
  console.log('README.md metric table already up to date');
}
