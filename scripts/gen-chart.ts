// Refreshes the Helm chart's copies of shipped files. Usage: node scripts/gen-chart.ts [--check]
import { copyFileSync, mkdirSync } from 'node:fs';
import { CHART_COPIES, staleCopies } from './chart-files.ts';

const root = new URL('../', import.meta.url);
const stale = staleCopies(root);
if (process.argv.includes('--check')) {
  if (stale.length > 0) {
    console.error(`chart copies differ from their sources: ${stale.join(', ')}: run \`node scripts/gen-chart.ts\``);
    process.exit(1);
  }
  console.log('chart copies are up to date');
} else {
  for (const { source, copy } of CHART_COPIES) {
    if (!stale.includes(copy)) continue;
    mkdirSync(new URL('.', new URL(copy, root)), { recursive: true });
    copyFileSync(new URL(source, root), new URL(copy, root));
  }
  console.log(stale.length > 0 ? `chart copies refreshed: ${stale.join(', ')}` : 'chart copies already up to date');
}
