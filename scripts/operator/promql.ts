/**
 * PromQL built from catalogue entries, and read back.
 *
 * Building: a query is a `Vector` that knows which labels its result carries. A selector starts from a
 * catalogue definition (its Prometheus series name, its attributes as labels), and every grouping,
 * matcher and legend is checked against those labels, so a renamed series or a dropped attribute in
 * packages/core/src/catalogue.ts changes the generated queries or stops the generator with the panel's
 * name, instead of leaving a query that silently returns nothing.
 *
 * Reading: `vectorSelectors()` finds every series selector of an expression (what the selector checks
 * of the rules file and of the mixin's renderings walk).
 */
import { type MetricDefinition, prometheusLabel, prometheusSeries } from '../../packages/core/src/catalogue.ts';

/** Labels every scraped series carries besides its attributes (the scrape's target labels). */
export const TARGET_LABELS: readonly string[] = ['job', 'instance'];

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Vector {
  readonly expr: string;
  /** The labels a sample of the result carries. */
  readonly labels: readonly string[];
}

/** Which series of a histogram a selector reads (`_bucket`, `_sum`, `_count`). */
export type HistogramPart = 'bucket' | 'sum' | 'count';

export interface Matcher {
  readonly label: string;
  readonly op: MatchOp;
  readonly value: string;
}

export const match = (label: string, op: MatchOp, value: string): Matcher => ({ label, op, value });

/** A regular expression matching exactly these values (for `=~` / `!~`). */
export const oneOf = (values: readonly string[]): string => values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');

/** The Prometheus label names a definition's series carry: job, instance, its attributes (+ le for buckets). */
export function labelsOf(def: MetricDefinition, part?: HistogramPart): string[] {
  return [...TARGET_LABELS, ...def.attributes.map(prometheusLabel), ...(part === 'bucket' ? ['le'] : [])];
}

function seriesName(def: MetricDefinition, part?: HistogramPart): string {
  const names = prometheusSeries(def);
  if (def.kind === 'Histogram') {
    if (part === undefined) throw new Error(`${def.prometheus} is a histogram: say which part (bucket, sum, count)`);
    return `${def.prometheus}_${part}`;
  }
  if (part !== undefined) throw new Error(`${def.prometheus} is a ${def.kind}, it has no _${part} series`);
  return names[0]!;
}

const quoted = (value: string) => JSON.stringify(value);

/**
 * `name{<selector>, matchers…}` for one catalogue definition. `selector` is put first verbatim (the
 * job selector the mixin makes configurable); every other matcher must name a label the series carries.
 */
export function select(def: MetricDefinition, selector: string, matchers: readonly Matcher[] = [], part?: HistogramPart): Vector {
  const labels = labelsOf(def, part);
  for (const m of matchers) {
    if (!labels.includes(m.label)) {
      throw new Error(`${def.prometheus} has no label ${m.label} (it has ${labels.join(', ')})`);
    }
  }
  const inside = [selector, ...matchers.map((m) => `${m.label}${m.op}${quoted(m.value)}`)].filter((s) => s !== '').join(', ');
  return { expr: `${seriesName(def, part)}{${inside}}`, labels };
}

function checkLabels(where: string, wanted: readonly string[], v: Vector): void {
  for (const l of wanted) {
    if (!v.labels.includes(l)) throw new Error(`${where}: ${l} is not a label of ${v.expr} (it has ${v.labels.join(', ')})`);
  }
}

/** rate()/increase() over a range. The window is PromQL text (`5m`, `$__rate_interval`). */
export const rate = (v: Vector, window: string): Vector => ({ expr: `rate(${v.expr}[${window}])`, labels: v.labels });
export const increase = (v: Vector, window: string): Vector => ({ expr: `increase(${v.expr}[${window}])`, labels: v.labels });

export type Aggregation = 'sum' | 'max' | 'min' | 'count';

/** `op by (labels) (v)`: the result carries only `by`, each of which `v` must carry. */
export function aggregate(op: Aggregation, by: readonly string[], v: Vector): Vector {
  checkLabels(`${op} by`, by, v);
  return { expr: `${op} by (${by.join(', ')}) (${v.expr})`, labels: [...by] };
}

/** `count_values by (labels) ("label", v)`: one sample per distinct value, the value in `label`. */
export function countValues(valueLabel: string, by: readonly string[], v: Vector): Vector {
  checkLabels('count_values by', by, v);
  return { expr: `count_values by (${by.join(', ')}) (${quoted(valueLabel)}, ${v.expr})`, labels: [...by, valueLabel] };
}

/** `histogram_quantile(q, sum by (le, by…) (v))`; `v` must be (a rate of) a histogram's buckets. */
export function histogramQuantile(q: number, by: readonly string[], v: Vector): Vector {
  checkLabels('histogram_quantile', ['le'], v);
  const summed = aggregate('sum', ['le', ...by], v);
  return { expr: `histogram_quantile(${q}, ${summed.expr})`, labels: [...by] };
}

/**
 * `a op b`, one-to-one on identical label sets (what every dashboard ratio and comparison here is);
 * `b` may be a number or a scalar expression such as `time()`.
 */
export function binary(a: Vector, op: string, b: Vector | string | number): Vector {
  if (typeof b === 'object') {
    const same = a.labels.length === b.labels.length && a.labels.every((l) => b.labels.includes(l));
    if (!same) throw new Error(`${op}: the sides carry different labels (${a.labels.join(', ')} / ${b.labels.join(', ')})`);
    return { expr: `${a.expr} ${op} ${b.expr}`, labels: a.labels };
  }
  return { expr: `${a.expr} ${op} ${b}`, labels: a.labels };
}

/** `scalar op v` (`time() - v`): the result carries v's labels. */
export const scalarOp = (scalar: string, op: string, v: Vector): Vector => ({ expr: `${scalar} ${op} ${v.expr}`, labels: v.labels });

/** `fn(v, args…)` for functions that keep the labels (clamp_min, …). */
export const call = (fn: string, v: Vector, ...args: Array<string | number>): Vector => ({
  expr: `${fn}(${[v.expr, ...args].join(', ')})`,
  labels: v.labels,
});

export const parens = (v: Vector): Vector => ({ expr: `(${v.expr})`, labels: v.labels });

/** `{{label}}` placeholders of a Grafana legend, each checked against the query's labels. */
export function legend(v: Vector, template: string): string {
  const used = [...template.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!);
  checkLabels(`legend "${template}"`, used, v);
  return template;
}

// ---------------------------------------------------------------------------------------------------
// Reading expressions.

export interface VectorSelector {
  /** The metric name, '' for a bare `{…}` selector. */
  readonly metric: string;
  /** The text between the braces, '' when there are none. */
  readonly matchers: string;
  /** Where the selector starts in the expression, and the index just past it. */
  readonly start: number;
  readonly end: number;
}

const AGGREGATIONS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
]);
/** Keywords followed by a parenthesised list of label names, not of expressions. */
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan', 'Inf', 'NaN']);

function endOfString(expr: string, start: number): number {
  const quote = expr[start]!;
  let i = start + 1;
  while (i < expr.length && expr[i] !== quote) i += quote !== '`' && expr[i] === '\\' ? 2 : 1;
  return i + 1;
}

/** Index of the bracket closing the one at `start`, skipping string literals. */
function closing(expr: string, start: number): number {
  const open = expr[start]!;
  const close = ({ '{': '}', '(': ')', '[': ']' } as Record<string, string>)[open]!;
  let depth = 0;
  for (let i = start; i < expr.length; ) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      i = endOfString(expr, i);
      continue;
    }
    if (c === open) depth += 1;
    if (c === close && --depth === 0) return i;
    i += 1;
  }
  throw new Error(`unbalanced ${open} in ${expr}`);
}

/** Every series selector of a PromQL expression, in order. */
export function vectorSelectors(expr: string): VectorSelector[] {
  const out: VectorSelector[] = [];
  const skipSpace = (j: number) => {
    while (j < expr.length && /\s/.test(expr[j]!)) j += 1;
    return j;
  };
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      i = endOfString(expr, i);
    } else if (c === '[') {
      i = closing(expr, i) + 1; // a range or subquery: durations and Grafana's $__interval variables
    } else if (c === '{') {
      const end = closing(expr, i);
      out.push({ metric: '', matchers: expr.slice(i + 1, end).trim(), start: i, end: end + 1 });
      i = end + 1;
    } else if (/[0-9.]/.test(c)) {
      i += /^[0-9.]+(?:[eE][+-]?[0-9]+)?[a-zA-Z]*/.exec(expr.slice(i))![0].length;
    } else if (/[a-zA-Z_:]/.test(c)) {
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i))![0];
      const next = skipSpace(i + name.length);
      if (LABEL_LISTS.has(name)) {
        i = expr[next] === '(' ? closing(expr, next) + 1 : next;
      } else if (KEYWORDS.has(name) || AGGREGATIONS.has(name) || expr[next] === '(') {
        i += name.length; // an operator, or a function applied to what follows
      } else if (expr[next] === '{') {
        const end = closing(expr, next);
        out.push({ metric: name, matchers: expr.slice(next + 1, end).trim(), start: i, end: end + 1 });
        i = end + 1;
      } else {
        out.push({ metric: name, matchers: '', start: i, end: i + name.length });
        i += name.length;
      }
    } else {
      i += 1;
    }
  }
  return out;
}

/** The selectors of `expr` whose matchers do not begin with `selector` (followed by `,` or the end). */
export function selectorsWithout(expr: string, selector: string): VectorSelector[] {
  return vectorSelectors(expr).filter((s) => {
    if (!s.matchers.startsWith(selector)) return true;
    const rest = s.matchers.slice(selector.length).trimStart();
    return rest !== '' && !rest.startsWith(',');
  });
}
