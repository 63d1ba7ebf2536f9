// Regenerates the README's generated blocks and the counts of every document's prose (doc-facts.ts),
// and with --check fails on anything stale or untrue instead. Usage: node scripts/gen-readme.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { docFiles, factProblems, withFacts } from './doc-facts.ts';
import { withGenerated } from './readme-blocks.ts';

const root = new URL('../', import.meta.url);
const check = process.argv.includes('--check');
const stale: string[] = [];
const problems: string[] = [];
for (const file of docFiles()) {
  const path = new URL(file, root);
  const current = readFileSync(path, 'utf8');
  const next = withFacts(file, file === 'README.md' ? withGenerated(current, root) : current);
  if (next !== current) {
    stale.push(file);
    if (!check) writeFileSync(path, next);
  }
  problems.push(...factProblems(file, check ? current : next));
}
if (check && stale.length > 0) {
  console.error(`stale generated blocks or counts (tables, snippets, panels, counts in prose) in ${stale.join(', ')}: run \`npm run docs\``);
}
for (const p of problems) console.error(p);
if (problems.length > 0 || (check && stale.length > 0)) process.exit(1);
console.log(check ? 'docs: generated blocks and counts in prose are up to date' : `docs: ${stale.length === 0 ? 'already up to date' : `regenerated ${stale.join(', ')}`}`);
