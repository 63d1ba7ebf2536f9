// Regenerates the operator artefacts: the Grafana dashboard, the monitoring mixin's generated files and the
// README blocks about alerts and panels (scripts/operator/artefacts.ts). Usage: node scripts/gen-operator.ts [--check]
import { mkdirSync, writeFileSync } from 'node:fs';
import { operatorArtefacts, staleArtefacts } from './operator/artefacts.ts';

const root = new URL('../', import.meta.url);
const artefacts = operatorArtefacts(root);
const stale = staleArtefacts(root, artefacts);
if (process.argv.includes('--check')) {
  if (stale.length > 0) {
    console.error(`operator artefacts differ from what the catalogue and the rules file generate: ${stale.join(', ')}: run \`npm run docs\``);
    process.exit(1);
  }
  console.log('operator artefacts (dashboard, mixin, README blocks) are up to date');
} else {
  for (const a of artefacts.filter((x) => stale.includes(x.path))) {
    const file = new URL(a.path, root);
    mkdirSync(new URL('.', file), { recursive: true });
    writeFileSync(file, a.content);
  }
  console.log(stale.length > 0 ? `operator artefacts regenerated: ${stale.join(', ')}` : 'operator artefacts already up to date');
}
