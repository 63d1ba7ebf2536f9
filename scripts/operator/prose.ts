/**
 * Counts and lists about the alerts and the dashboard that the READMEs state, rendered from the rules
 * file and the built dashboard, so prose cannot drift from them. Each lives in a block
 *   <!-- generated:NAME (…) --> … <!-- /generated:NAME -->
 * that `npm run docs` refills and `npm run docs:check` compares.
 */
import { alertNames, RULES_PATH, type RuleFile } from './alert-rules.ts';
import { DASHBOARD_TITLE } from './dashboard.ts';

interface DashboardPanel {
  type: string;
  title: string;
  targets?: unknown[];
}

/** Rows of the dashboard with their panels (the layout is flat: a row's panels follow it). */
export function dashboardRows(dashboard: unknown): Array<{ title: string; panels: DashboardPanel[] }> {
  const out: Array<{ title: string; panels: DashboardPanel[] }> = [];
  for (const p of (dashboard as { panels: DashboardPanel[] }).panels) {
    if (p.type === 'row') out.push({ title: p.title, panels: [] });
    else if (out.length === 0) throw new Error(`panel "${p.title}" comes before the first row`);
    else out.at(-1)!.panels.push(p);
  }
  return out;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const code = (s: string) => `\`${s}\``;

export function alertSummary(rules: RuleFile): string {
  const groups = alertNames(rules);
  const total = groups.reduce((n, g) => n + g.alerts.length, 0);
  return [
    `**${plural(total, 'alert')} in ${plural(groups.length, 'group')}:**`,
    '',
    ...groups.map((g) => `- ${code(g.group)} (${g.alerts.length}): ${g.alerts.map(code).join(', ')}`),
  ].join('\n');
}

export function alertTable(rules: RuleFile): string {
  return [
    alertSummary(rules),
    '',
    '| group | alert | severity | for | summary |',
    '|---|---|---|---|---|',
    ...rules.groups.flatMap((g) =>
      g.rules
        .filter((r) => r.alert)
        .map((r) => `| ${code(g.name)} | ${code(r.alert!)} | ${r.labels?.severity ?? ''} | ${r.for ?? '0s'} | ${(r.annotations?.summary ?? '').replaceAll('|', '\\|')} |`),
    ),
  ].join('\n');
}

export function dashboardSummary(dashboard: unknown): string {
  const rows = dashboardRows(dashboard);
  const panels = rows.flatMap((r) => r.panels);
  const queries = panels.reduce((n, p) => n + (p.targets?.length ?? 0), 0);
  return [
    `**"${DASHBOARD_TITLE}": ${plural(panels.length, 'panel')} in ${plural(rows.length, 'row')}, ${plural(queries, 'PromQL query', 'PromQL queries')}:**`,
    '',
    ...rows.map((r) => `- **${r.title}** (${r.panels.length}): ${r.panels.map((p) => p.title).join('; ')}`),
  ].join('\n');
}

/** The generated blocks of each README, by block name. */
export function proseBlocks(rules: RuleFile, dashboard: unknown): Record<string, Record<string, { source: string; text: string }>> {
  const fromRules = { source: RULES_PATH, text: alertSummary(rules) };
  const fromDashboard = { source: 'scripts/operator/dashboard.ts', text: dashboardSummary(dashboard) };
  return {
    'README.md': { 'alert-groups': fromRules, 'dashboard-panels': fromDashboard },
    'collector/README.md': {
      'alert-table': { source: RULES_PATH, text: alertTable(rules) },
      'dashboard-panels': fromDashboard,
    },
  };
}

/** `text` with every block of `blocks` refilled; a block missing from the text is an error. */
export function withBlocks(text: string, file: string, blocks: Record<string, { source: string; text: string }>): string {
  let out = text;
  for (const [name, block] of Object.entries(blocks)) {
    const open = new RegExp(`<!-- generated:${name} [^\\n]*-->\\n`);
    const close = `<!-- /generated:${name} -->`;
    const start = open.exec(out);
    const end = out.indexOf(close);
    if (start === null || end < start.index) throw new Error(`${file} has no <!-- generated:${name} … --> … ${close} block`);
    const header = `<!-- generated:${name} (from ${block.source} by \`npm run docs\`; do not edit) -->\n`;
    out = `${out.slice(0, start.index)}${header}${block.text}\n${out.slice(end)}`;
  }
  return out;
}
