/**
 * Reading the Grafana dashboard's PromQL: which expressions each panel runs, which catalogue series
 * they name, and how to turn Grafana's template variables into a query Prometheus can run.
 */
import { METRIC_LIST, prometheusLabel } from '@reloadscope/core';

export interface PanelQueries {
  title: string;
  exprs: string[];
}

interface Panel {
  type: string;
  title: string;
  panels?: Panel[];
  targets?: Array<{ expr?: string }>;
}

/** Every non-row panel (including panels nested in collapsed rows) with its PromQL expressions. */
export function dashboardExpressions(dashboard: { panels: Panel[] }): PanelQueries[] {
  const out: PanelQueries[] = [];
  const visit = (panels: Panel[]) => {
    for (const p of panels) {
      if (p.type === 'row') {
        visit(p.panels ?? []);
        continue;
      }
      out.push({ title: p.title, exprs: (p.targets ?? []).map((t) => t.expr ?? '').filter((e) => e.trim() !== '') });
    }
  };
  visit(dashboard.panels);
  return out;
}

export interface LabelVariable {
  name: string;
  /** The series selector the values come from, and the label whose values they are. */
  selector: string;
  label: string;
}

/** The dashboard's query variables, each a Prometheus `label_values(selector, label)`. */
export function dashboardVariables(dashboard: {
  templating: { list: Array<{ name: string; type: string; query?: string | { query?: string } }> };
}): LabelVariable[] {
  return dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const text = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
      const m = /^label_values\((.+),\s*(\w+)\)$/s.exec(text);
      if (!m) throw new Error(`variable ${v.name} is not a label_values() query: ${text}`);
      return { name: v.name, selector: m[1]!, label: m[2]! };
    });
}

/** The catalogue's attribute keys as Prometheus label names (hotreload.target -> hotreload_target). */
export const ATTRIBUTES_AS_LABELS: ReadonlySet<string> = new Set(
  METRIC_LIST.flatMap((d) => d.attributes).map(prometheusLabel),
);

/**
 * Metric names (hotreload_*) an expression selects: label matchers `{...}`, grouping clauses
 * `by/without/on/ignoring/group_left/group_right (...)` and string literals are removed first, so
 * label names such as hotreload_target are not mistaken for series.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1()');
  return [...new Set(stripped.match(/\bhotreload_[a-zA-Z0-9_]+/g) ?? [])];
}

/** Replaces Grafana's template variables so the expression runs as-is against Prometheus. */
export function resolveGrafanaVariables(expr: string, rateInterval = '1m'): string {
  return expr
    .replaceAll('$__rate_interval', rateInterval)
    .replaceAll('$__interval', rateInterval)
    .replace(/\$(job|instance|target)\b/g, '.*');
}
