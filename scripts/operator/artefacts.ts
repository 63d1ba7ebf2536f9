/**
 * Every operator artefact generated from the catalogue and the rules file, as (path, content) pairs:
 * the shipped dashboard, the mixin's generated files and the README blocks about them.
 * `node scripts/gen-operator.ts` writes them, `--check` (part of `npm run docs:check`) lists the stale ones.
 * The chart's copies follow from the shipped files through scripts/gen-chart.ts, which runs after it.
 */
import { readFileSync } from 'node:fs';
import { alertNames, readRules, type RuleFile } from './alert-rules.ts';
import { buildDashboard } from './dashboard.ts';
import { mixinFiles } from './mixin.ts';
import { proseBlocks, withBlocks } from './prose.ts';
import { DEFAULT_SELECTOR } from './selector.ts';

export const DASHBOARD_PATH = 'collector/grafana/dashboards/reloadscope.json';

export interface Artefact {
  readonly path: string;
  readonly content: string;
}

/** Alert names that panel descriptions mention but the rules file does not have (a renamed alert). */
export function unknownAlertMentions(dashboard: unknown, rules: RuleFile): string[] {
  const known = new Set(alertNames(rules).flatMap((g) => g.alerts));
  const panels = (dashboard as { panels: Array<{ title: string; description?: string }> }).panels;
  return panels.flatMap((p) =>
    [...(p.description ?? '').matchAll(/\bHotReload\w+/g)].filter((m) => !known.has(m[0])).map((m) => `panel "${p.title}" names ${m[0]}`),
  );
}

export function operatorArtefacts(root: URL): Artefact[] {
  const rules = readRules(root);
  const dashboard = buildDashboard(DEFAULT_SELECTOR);
  const unknown = unknownAlertMentions(dashboard, rules);
  if (unknown.length > 0) throw new Error(`the dashboard names alerts the rules file does not have: ${unknown.join('; ')}`);
  const readmes = Object.entries(proseBlocks(rules, dashboard)).map(([path, blocks]) => ({
    path,
    content: withBlocks(readFileSync(new URL(path, root), 'utf8'), path, blocks),
  }));
  return [{ path: DASHBOARD_PATH, content: `${JSON.stringify(dashboard, null, 2)}\n` }, ...mixinFiles(rules), ...readmes];
}

/** The artefacts whose file is missing or differs from what the generator makes now. */
export function staleArtefacts(root: URL, artefacts: readonly Artefact[] = operatorArtefacts(root)): string[] {
  return artefacts
    .filter((a) => {
      try {
        return readFileSync(new URL(a.path, root), 'utf8') !== a.content;
      } catch {
        return true;
      }
    })
    .map((a) => a.path);
}
