/**
 * The alert rules file, collector/prometheus/rules/hotreload.rules.yml: the one source of the rules.
 * It is written by hand (each rule with the comment that says what it guards against) and tested by
 * promtool; Prometheus, docker-compose and the chart use it as it is. The mixin's form is generated from
 * it: the job selector that begins every series selector becomes the mixin's placeholder.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { RULES_PATH } from '../readme-blocks.ts';
import { vectorSelectors } from './promql.ts';

export { RULES_PATH };

export interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly Rule[];
}

export interface RuleFile {
  readonly groups: readonly RuleGroup[];
}

export function readRules(root: URL): RuleFile {
  return parse(readFileSync(new URL(RULES_PATH, root), 'utf8')) as RuleFile;
}

const ruleName = (r: Rule) => r.alert ?? r.record ?? '(unnamed rule)';

/** Alert names per group, in file order. */
export function alertNames(rules: RuleFile): Array<{ group: string; alerts: string[] }> {
  return rules.groups.map((g) => ({ group: g.name, alerts: g.rules.flatMap((r) => (r.alert ? [r.alert] : [])) }));
}

/** `expr` with `to` in place of `from`, which must begin every series selector; throws naming each selector without it. */
export function replaceSelector(expr: string, from: string, to: string, where = 'expression'): string {
  let out = '';
  let cursor = 0;
  const missing: string[] = [];
  for (const s of vectorSelectors(expr)) {
    const text = expr.slice(s.start, s.end);
    const open = text.indexOf('{');
    const inside = open < 0 ? '' : text.slice(open + 1).trimStart();
    const rest = inside.slice(from.length).trimStart();
    if (open < 0 || !inside.startsWith(from) || !(rest.startsWith(',') || rest.startsWith('}'))) {
      missing.push(text);
      continue;
    }
    const at = s.start + open + 1 + (text.slice(open + 1).length - inside.length);
    out += expr.slice(cursor, at) + to;
    cursor = at + from.length;
  }
  if (missing.length > 0) {
    throw new Error(`${where}: every series selector must begin with ${from}; these do not: ${missing.join(', ')}`);
  }
  return out + expr.slice(cursor);
}

/** The rules with `to` in place of the selector `from` in every expression. */
export function rulesWithSelector(rules: RuleFile, from: string, to: string): RuleFile {
  return {
    groups: rules.groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => ({ ...r, expr: replaceSelector(r.expr, from, to, `rule ${ruleName(r)} (group ${g.name})`) })),
    })),
  };
}
