/**
 * A copy of the shipped alert rules for live tests that cannot wait 15 minutes: every `for:` and every range
 * window divided by one factor, nothing else changed. `scaleRules` checks its own output: with the windows
 * blanked out, each expression must equal the shipped one.
 */
import { parse, stringify } from 'yaml';

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
// Range selectors `[10m]` and subquery ranges `[10m:1m]`.
const WINDOW = /\[(\d+)([smhd])(?::(\d+)([smhd]))?\]/g;

function scaled(amount: string, unit: string, factor: number): string {
  const ms = Math.round((Number(amount) * UNIT_SECONDS[unit]! * 1000) / factor);
  if (ms <= 0) throw new Error(`${amount}${unit} divided by ${factor} is no duration`);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function scaleDuration(d: string, factor: number): string {
  const m = /^(\d+)([smhd])$/.exec(d);
  if (!m) throw new Error(`unsupported duration ${d}`);
  return scaled(m[1]!, m[2]!, factor);
}

const blank = (expr: string) => expr.replace(/\[[^\]]*\]/g, '[]');

/** The rules file `text` with `for:` and range windows divided by `factor`, as YAML. */
export function scaleRules(text: string, factor: number): string {
  const doc = parse(text) as { groups: Array<{ rules: Rule[] }> };
  for (const group of doc.groups) {
    for (const rule of group.rules) {
      const original = rule.expr;
      rule.expr = original.replace(WINDOW, (_all, a: string, u: string, ra?: string, ru?: string) =>
        ra === undefined ? `[${scaled(a, u, factor)}]` : `[${scaled(a, u, factor)}:${scaled(ra, ru!, factor)}]`,
      );
      if (blank(rule.expr) !== blank(original)) throw new Error(`scaling changed the expression of ${rule.alert}`);
      if (rule.for !== undefined) rule.for = scaleDuration(rule.for, factor);
    }
  }
  return stringify(doc);
}
