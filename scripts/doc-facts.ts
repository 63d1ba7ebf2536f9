/**
 * Counts and lists in the prose of the documentation, kept true like the generated tables of
 * readme-blocks.ts. Three kinds of check, run by `npm run docs:check` (and `npm run docs` rewrites
 * what it can):
 *
 * - CLAIMS: a count (or a short list) at a fixed place in the prose, e.g. "ships sixteen alerts in
 *   three groups", with the value it must have, computed from the fact's one source (the rules file,
 *   semconv.ts, the error-code lists, a test's constant…). `npm run docs` writes the value;
 *   `--check` fails when a written value differs or the sentence is gone.
 * - LISTS: a list or table in the prose whose items must be exactly the items of a source (an
 *   error-code table, the package table, the flags of a CLI, the alert table of collector/README).
 *   Checked only: the rows carry descriptions written by hand.
 * - The GUARD: any other number in front of a countable noun of the repository ("8 alerts",
 *   "two packages") fails the check, unless it sits in a section of measured figures or is listed in
 *   NOT_REPOSITORY_FACTS with the reason it is no count of the repository. A new count in prose is
 *   then added as a claim, not left to go stale.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CLI_OPTIONS } from '../packages/cluster/src/cli-options.ts';
import { CLUSTER_ERROR_CODES } from '../packages/cluster/src/errors.ts';
import { DIAGNOSTIC_CODES } from '../packages/config/src/diagnostics.ts';
import { CONFIG_ERROR_CODES } from '../packages/config/src/errors.ts';
import { DURATION_BUCKETS_SECONDS, EVENTLOOP_BUCKETS_SECONDS, METRIC_LIST } from '../packages/core/src/catalogue.ts';
import { CORE_ERROR_CODES } from '../packages/core/src/errors.ts';
import { AUTH_FAILURE_REASONS, OUTCOMES, STAGE_OUTCOMES, STAGES, TRIGGERS } from '../packages/core/src/semconv.ts';
import { SAMPLERS } from '../packages/register/src/env.ts';
import { DEMO_STEPS } from '../examples/config-service/src/demo-steps.ts';
import { MAY_IMPORT, ROOT, workspaces } from './packages.ts';

/** The documentation whose prose is checked: every README and ARCHITECTURE.md. */
export function docFiles(): string[] {
  const under = (dir: string) =>
    readdirSync(join(ROOT, dir), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `${dir}/${e.name}/README.md`)
      .filter((f) => exists(f));
  return ['README.md', 'ARCHITECTURE.md', 'collector/README.md', ...under('packages'), 'examples/README.md', ...under('examples')];
}

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const exists = (path: string) => {
  try {
    readFileSync(join(ROOT, path));
    return true;
  } catch {
    return false;
  }
};

// ---- the facts, each from its one source


/** A constant of a test or fixture file, read from its source: `const NAME = 42;`. */
function constantIn(path: string, name: string): number {
  const m = new RegExp(`const ${name} = (\\d+);`).exec(read(path));
  if (!m) throw new Error(`${path} has no \`const ${name} = <number>;\` any more`);
  return Number(m[1]);
}

/** Listening ports a config binds by default: the defaults of its `${env:VAR:-…port}` address variables. */
function defaultPorts(path: string, variable: RegExp): number[] {
  const ports = new Set<number>();
  for (const m of read(path).matchAll(/\$\{env:(\w+):-(?:[^}:]*:)?(\d+)\}/g)) if (variable.test(m[1]!)) ports.add(Number(m[2]));
  return [...ports];
}
/** Ports that the shipped Collector and Jaeger configs both bind by default. */
const sharedDefaultPorts = () => {
  const jaeger = new Set(defaultPorts('collector/jaeger.yaml', /^JAEGER_\w+_PORT$/));
  return defaultPorts('collector/otel-collector.yaml', /^OTELCOL_\w+_(ENDPOINT|PORT)$/)
    .filter((p) => jaeger.has(p))
    .sort((a, b) => a - b);
};

const builderComponents = () => {
  const b = parseYaml(read('collector/builder-config.yaml')) as Record<string, unknown[] | undefined>;
  return ['receivers', 'processors', 'exporters', 'extensions', 'connectors'].reduce((n, k) => n + (b[k]?.length ?? 0), 0);
};

const prometheusJobs = () => (parseYaml(read('collector/prometheus/prometheus.yml')) as { scrape_configs: unknown[] }).scrape_configs.length;

/** The corrected common rules that ARCHITECTURE.md explains, one bold `**"…": `expr`.**` paragraph each. */
const correctedRules = () => [...read('ARCHITECTURE.md').matchAll(/^\*\*"[^"]+": `[^`]+`\.\*\*/gm)].length;

const agentsOfFleetTest = () => {
  const m = /function writeTargets\(agent: ((?:'\w+' \| )*'\w+')/.exec(read('test/e2e/fleet.test.ts'));
  if (!m) throw new Error('test/e2e/fleet.test.ts: writeTargets(agent: …) names no agents any more');
  return m[1]!.split('|').length;
};

interface CollectorConfig {
  service: { extensions: string[]; pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }> };
}
const collectorService = () => (parseYaml(read('collector/otel-collector.yaml')) as CollectorConfig).service;

const publishedPackages = () => workspaces().filter((w) => w.dir.startsWith('packages/')).map((w) => w.manifest.name);

// ---- how a value is written

const WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen', 'twenty'];
/** A count in running text: a word up to twenty, digits above. `capital` for the start of a sentence. */
export function inWords(n: number, capital = false): string {
  const w = n <= 20 ? WORDS[n]! : String(n);
  return capital ? w[0]!.toUpperCase() + w.slice(1) : w;
}
const andList = (items: readonly (string | number)[]) =>
  items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;

// ---- claims: a value at a fixed place, rewritten by `npm run docs`

export interface Claim {
  file: string;
  /** Matches the sentence; its first capture group is the value, replaced by `value()`. */
  pattern: RegExp;
  value: () => string;
  /** Where the value comes from, for the failure message. */
  source: string;
}

const count = (file: string, pattern: RegExp, n: () => number, source: string, style: 'words' | 'Words' | 'digits' = 'words'): Claim => ({
  file,
  pattern,
  source,
  value: () => (style === 'digits' ? String(n()) : inWords(n(), style === 'Words')),
});

export const CLAIMS: Claim[] = [
  count('README.md', /(\w+) rules that are commonly copied/, correctedRules, 'ARCHITECTURE.md, "The alert rules and the rules they replace"', 'Words'),
  count('ARCHITECTURE.md', /set up with (\w+) rules that are wrong as written/, correctedRules, 'the bold paragraphs below it'),
  count('collector/README.md', /(\w+) rules that circulate for reload monitoring/, correctedRules, 'ARCHITECTURE.md, "The alert rules and the rules they replace"', 'Words'),
  count('README.md', /for all (\w+) outcomes/, () => OUTCOMES.length, 'OUTCOMES in packages/core/src/semconv.ts'),
  count('collector/README.md', /all (\w+) outcomes seen/, () => OUTCOMES.length, 'OUTCOMES'),
  count('collector/README.md', /against its Jaeger for all (\w+) outcomes/, () => OUTCOMES.length, 'OUTCOMES'),
  count('collector/README.md', /triggers used × (\d+) outcomes/, () => OUTCOMES.length, 'OUTCOMES', 'digits'),
  {
    file: 'collector/README.md',
    pattern: /\| typical \(\d+\) \| upper bound \|\n\|[-|]+\|\n\| `hotreload_reloads_total` \| [^|]+ \| [^|]+ \| (\d+ × \d+ = \d+) \|/,
    value: () => `${TRIGGERS.length} × ${OUTCOMES.length} = ${TRIGGERS.length * OUTCOMES.length}`,
    source: 'TRIGGERS × OUTCOMES',
  },
  count('collector/README.md', /outcomes seen × (\d+) \(\d+ edges/, () => DURATION_BUCKETS_SECONDS.length + 3, 'DURATION_BUCKETS_SECONDS + `+Inf`, `_sum`, `_count`', 'digits'),
  count('collector/README.md', /outcomes seen × \d+ \((\d+) edges/, () => DURATION_BUCKETS_SECONDS.length, 'DURATION_BUCKETS_SECONDS', 'digits'),
  {
    file: 'collector/README.md',
    pattern: /\(stage, stage outcome\) pairs seen × \d+ \| [^|]+ \| (\d+ × \d+ = \d+) \|/,
    value: () => `${STAGES.length * STAGE_OUTCOMES.length} × ${DURATION_BUCKETS_SECONDS.length + 3} = ${STAGES.length * STAGE_OUTCOMES.length * (DURATION_BUCKETS_SECONDS.length + 3)}`,
    source: 'STAGES × STAGE_OUTCOMES, and the duration buckets',
  },
  count('collector/README.md', /\(stage, stage outcome\) pairs seen × (\d+)/, () => DURATION_BUCKETS_SECONDS.length + 3, 'DURATION_BUCKETS_SECONDS', 'digits'),
  count('collector/README.md', /\| stages seen × (\d+) \|/, () => EVENTLOOP_BUCKETS_SECONDS.length + 3, 'EVENTLOOP_BUCKETS_SECONDS + 3', 'digits'),
  count('collector/README.md', /file_sd targets of its (\w+) jobs/, prometheusJobs, 'collector/prometheus/prometheus.yml scrape_configs'),
  count('collector/README.md', /`otel-collector\.yaml` share\s+(\w+) ports/, () => sharedDefaultPorts().length, 'the default ports of collector/jaeger.yaml and collector/otel-collector.yaml'),
  {
    file: 'README.md',
    pattern: /with both configs' defaults,\s+([\d, and]+?) collide/,
    value: () => andList(sharedDefaultPorts()),
    source: 'the default ports of collector/jaeger.yaml and collector/otel-collector.yaml',
  },
  count('collector/README.md', /\(ocb v[\d.]+, (\d+) components\)/, builderComponents, 'collector/builder-config.yaml', 'digits'),
  count('collector/README.md', /fleet\.test\.ts` \(~\d+ s\): (\w+) replicas/, () => constantIn('test/e2e/fleet.test.ts', 'REPLICAS'), 'REPLICAS in test/e2e/fleet.test.ts'),
  count('collector/README.md', /fleet\.test\.ts` \(~\d+ s\): \w+ replicas, (\w+) agents/, agentsOfFleetTest, 'writeTargets() in test/e2e/fleet.test.ts'),
  count('README.md', /The test suite runs (\d+) upgrades/, () => constantIn('packages/cluster/test/upgrade.test.ts', 'UPGRADES'), 'UPGRADES in packages/cluster/test/upgrade.test.ts', 'digits'),
  count('packages/config/README.md', /(\d+) reloads per path against FIFOs/, () => constantIn('packages/config/test/fixtures/fifo-pool-child.ts', 'RUNS'), 'RUNS in packages/config/test/fixtures/fifo-pool-child.ts', 'digits'),
  count('packages/config/README.md', /All (\w+) series exist at 0 once a handler is created/, () => AUTH_FAILURE_REASONS.length, 'AUTH_FAILURE_REASONS'),
  count('packages/register/README.md', /ratio in \[0, 1\] of the (\w+) `traceidratio` samplers/, () => SAMPLERS.filter((s) => s.endsWith('traceidratio')).length, 'SAMPLERS in packages/register/src/env.ts'),
  count('packages/node/README.md', /Per reload the probes record (\w+) histogram points/, () => METRIC_LIST.filter((m) => m.owner === 'node' && m.kind === 'Histogram').length, 'the node-owned histograms of the catalogue'),
  count('examples/config-service/README.md', /drives it through (\w+) reloads that/, () => DEMO_STEPS.length, 'DEMO_STEPS in examples/config-service/src/demo-steps.ts'),
];

// ---- lists: items that must be exactly a source's

export interface ListCheck {
  file: string;
  /** What the list is, for the failure message. */
  what: string;
  /** The items written in the document. */
  written: (text: string) => string[] | undefined;
  expected: () => readonly string[];
  /** Compare in order (a sequence such as the stages), or as sets (a table). */
  ordered?: boolean;
}

const backticked = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** The rows of the table whose header line starts with `header`: each row's cells, trimmed. */
function tableRows(text: string, header: string): string[][] | undefined {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.startsWith(header));
  if (at < 0) return undefined;
  const rows: string[][] = [];
  for (const line of lines.slice(at + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}
const firstColumn = (header: string, pick = (cell: string) => backticked(cell)[0] ?? cell.replace(/\*/g, '')) => (text: string) =>
  tableRows(text, header)?.map((r) => pick(r[0]!));
const captured = (pattern: RegExp, split: (s: string) => string[]) => (text: string) => {
  const m = pattern.exec(text);
  return m ? split(m[1]!) : undefined;
};

export const LISTS: ListCheck[] = [
  {
    file: 'README.md',
    what: 'the stages of a run, in order',
    written: captured(/\(\*\*([a-z →]+)\*\*, plus \*\*(?:rollback)\*\* when it happens\)/, (s) => [...s.split(' → '), 'rollback']),
    expected: () => STAGES,
    ordered: true,
  },
  {
    file: 'ARCHITECTURE.md',
    what: 'the stages of a run, in order',
    written: captured(/fixed set of \*\*stages\*\* — `([a-z →]+)`, plus\s+`rollback`/, (s) => [...s.split(' → '), 'rollback']),
    expected: () => STAGES,
    ordered: true,
  },
  {
    file: 'ARCHITECTURE.md',
    what: 'the outcomes of a run',
    written: captured(/exactly one \*\*outcome\*\*: ([\s\S]+?)\. A failed reload/, (s) => backticked(s.replace(/\([^)]*\)/g, ''))),
    expected: () => OUTCOMES,
  },
  {
    file: 'README.md',
    what: 'the outcomes the demo goes through',
    written: captured(/goes through every outcome — ([a-z,\s]+) —/, (s) => s.split(/,\s*/)),
    expected: () => OUTCOMES,
  },
  { file: 'README.md', what: 'the rows of the outcome table', written: firstColumn('| outcome | when | active version |'), expected: () => OUTCOMES },
  {
    file: 'examples/README.md',
    what: 'the outcomes of the config-service tour',
    written: captured(/\| every outcome \(([a-z, ]+)\)/, (s) => s.split(', ')),
    expected: () => OUTCOMES,
  },
  {
    file: 'packages/core/README.md',
    what: 'the trigger names',
    written: captured(/`trigger` \(`([a-z | ]+)`/, (s) => s.split(' | ')),
    expected: () => TRIGGERS,
    ordered: true,
  },
  { file: 'packages/core/README.md', what: 'the core error-code table', written: firstColumn('| code | meaning |'), expected: () => CORE_ERROR_CODES },
  {
    file: 'packages/config/README.md',
    what: "the config error-code table (and core's timeout)",
    written: firstColumn('| code | stage | meaning |'),
    expected: () => [...CONFIG_ERROR_CODES, 'timeout'],
  },
  {
    file: 'packages/config/README.md',
    what: 'the codes onDiagnostic receives (DIAGNOSTIC_CODES in packages/config/src/diagnostics.ts)',
    written: (text) => {
      const row = text.split('\n').find((l) => l.startsWith('| `onDiagnostic` |'));
      return row ? backticked(row.split('Receives')[1]?.split('. Messages')[0] ?? '').filter((c) => c !== '{ code, message }') : undefined;
    },
    expected: () => DIAGNOSTIC_CODES,
  },
  {
    file: 'packages/config/README.md',
    what: 'the reasons of hotreload_http_auth_failures_total',
    written: captured(/by `hotreload\.auth\.reason` — ([\s\S]+?)\.\n/, (s) => backticked(s.replace(/\([^)]*\)/g, ''))),
    expected: () => AUTH_FAILURE_REASONS,
  },
  {
    file: 'packages/cluster/README.md',
    what: 'the flags of reloadscope-cluster',
    written: firstColumn('| flag | meaning | default |', (cell) => /^`--([\w-]+)/.exec(cell)?.[1] ?? cell),
    expected: () => Object.keys(CLI_OPTIONS),
  },
  {
    file: 'packages/register/README.md',
    what: 'the samplers of OTEL_TRACES_SAMPLER',
    written: (text) => {
      const row = text.split('\n').find((l) => l.startsWith('| `OTEL_TRACES_SAMPLER` |'));
      return row ? backticked(row.split('|')[3]!.split('(the')[0]!) : undefined;
    },
    expected: () => SAMPLERS,
  },
  {
    file: 'README.md',
    what: 'the package table',
    written: firstColumn('| package | what it is |', (cell) => /`(@reloadscope\/[\w-]+)`/.exec(cell)?.[1] ?? cell),
    expected: publishedPackages,
  },
  {
    file: 'ARCHITECTURE.md',
    what: 'the packages of "Packages and what each may import" (MAY_IMPORT in scripts/packages.ts)',
    written: firstColumn('| package | may import | never |', (cell) => `@reloadscope/${backticked(cell)[0] ?? cell}`),
    expected: () => Object.keys(MAY_IMPORT),
  },
  {
    file: 'ARCHITECTURE.md',
    what: 'the packages of the code map',
    written: (text) => [...text.matchAll(/^packages\/\w+\s+(@reloadscope\/[\w-]+)/gm)].map((m) => m[1]!),
    expected: publishedPackages,
  },
  {
    file: 'examples/config-service/README.md',
    what: 'the outcomes of the demo steps, in order (DEMO_STEPS)',
    written: (text) => tableRows(text, '| step | what the demo does | outcome |')?.map((r) => backticked(r[2]!)[0] ?? r[2]!),
    expected: () => DEMO_STEPS.map((s) => s.outcome),
    ordered: true,
  },
  {
    file: 'README.md',
    what: "the Collector's processors and extensions (collector/otel-collector.yaml)",
    written: captured(/serves\s+Prometheus; ((?:`[\w/]+`,?\s*)+); every port an env var/, backticked),
    expected: () => {
      const service = collectorService();
      return [...new Set(Object.values(service.pipelines).flatMap((p) => p.processors)), ...service.extensions];
    },
    ordered: true,
  },
  {
    file: 'ARCHITECTURE.md',
    what: "the Collector's traces pipeline, in order (collector/otel-collector.yaml)",
    written: captured(/→\s+Collector \(([^)]+)\) → `[\w/]+` exporter/, (s) => backticked(s)),
    expected: () => {
      const traces = collectorService().pipelines.traces!;
      return [...traces.receivers, ...traces.processors];
    },
    ordered: true,
  },

];

/** In every table with an `error.type` column, each backticked code must be one reloadscope produces. */
function unknownCodes(file: string, text: string): string[] {
  const known = new Set<string>([...CORE_ERROR_CODES, ...CONFIG_ERROR_CODES, ...CLUSTER_ERROR_CODES]);
  const problems: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('|')) continue;
    const header = lines[i]!.split('|');
    const column = header.findIndex((c) => c.includes('`error.type`'));
    if (column < 0 || !lines[i + 1]?.startsWith('|--') && !lines[i + 1]?.startsWith('|-')) continue;
    for (let j = i + 2; j < lines.length && lines[j]!.startsWith('|'); j++) {
      for (const code of backticked(lines[j]!.split('|')[column] ?? '')) {
        if (/^[a-z][a-z0-9_]*$/.test(code) && !known.has(code)) problems.push(`${file}:${j + 1}: \`${code}\` in an error.type column is no error code reloadscope produces`);
      }
    }
  }
  return problems;
}

// ---- the guard

const NUMBER = '(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|[2-9]|\\d{2,}[\\d,]*)';
const NOUN =
  '(?:alerts?|alert rules?|rules?|groups?|outcomes?|stages?|triggers?|packages?|error codes?|codes?|metrics?|instruments?|hooks?|flags?|variables?|steps?|reloads?|samplers?|jobs?|configs?|series|panels?|quer(?:y|ies)|tests?|components?|layers?|reasons?|upgrades?|replicas?|agents?|attributes?|points?|ways|forms?|questions?|ports?|targets?|labels?|probes?|exporters?|receivers?|processors?|workers?|generations?)';
const COUNT_IN_PROSE = new RegExp(`(?<![\\w.×-])${NUMBER}\\s+(?:[\\w\`'-]+\\s+){0,2}?${NOUN}\\b`, 'gi');

/** Sections that report measured figures (with the command that measured them), not counts of the repository. */
const MEASURED_SECTIONS: Record<string, string[]> = {
  'README.md': ['## Performance'],
  'collector/README.md': ['### Fleet scale', '## Build times'],
  'packages/cluster/README.md': ['### How this differs from `pm2 reload`'],
};

/** Numbers in front of such nouns that are no count of the repository, each with why. */
const NOT_REPOSITORY_FACTS: Record<string, Record<string, string>> = {
  'packages/core/README.md': {
    '100 targets': 'a measurement at the default cap, stated with the machine it ran on',
    '20 000 targets': 'a measurement, stated with the machine it ran on',
  },
  'packages/node/README.md': {
    '14 KB config': 'the size of a measured example',
    'two per reload': 'explains why one point per run, not one per stage',
    '4 no-op stages': 'the setup of a measurement (npm run bench -- --only overhead)',
    '6 µs per reload': 'a measurement',
    'two points': 'the same two points as "Per reload the probes record two histogram points", which is checked',
    '10 000 open sockets': 'a measured scenario',
  },
};

function sectionsOf(text: string): Array<{ heading: string; from: number; to: number }> {
  const heads = [...text.matchAll(/^(#{1,6}) .*$/gm)].map((m) => ({ heading: m[0], level: m[1]!.length, at: m.index! }));
  return heads.map((h, i) => {
    const next = heads.slice(i + 1).find((o) => o.level <= h.level);
    return { heading: h.heading, from: h.at, to: next?.at ?? text.length };
  });
}

/** Spans of text the guard does not read: code fences, generated blocks, measured sections. */
function skipped(file: string, text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (const m of text.matchAll(/^```[\s\S]*?^```/gm)) spans.push([m.index!, m.index! + m[0].length]);
  for (const m of text.matchAll(/<!-- (\w+):start[\s\S]*?<!-- \1:end -->/g)) spans.push([m.index!, m.index! + m[0].length]);
  // The operator artefacts' blocks (scripts/operator/prose.ts) are written from their sources too.
  for (const m of text.matchAll(/<!-- generated:([\w-]+) [\s\S]*?<!-- \/generated:\1 -->/g)) spans.push([m.index!, m.index! + m[0].length]);
  for (const s of sectionsOf(text)) if (MEASURED_SECTIONS[file]?.some((h) => s.heading.startsWith(h))) spans.push([s.from, s.to]);
  return spans;
}

function claimSpans(file: string, text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (const c of CLAIMS.filter((c) => c.file === file)) {
    for (const m of text.matchAll(new RegExp(c.pattern.source, 'g'))) spans.push([m.index!, m.index! + m[0].length]);
  }
  return spans;
}

function unclaimedCounts(file: string, text: string): string[] {
  const skip = [...skipped(file, text), ...claimSpans(file, text)];
  const allowed = NOT_REPOSITORY_FACTS[file] ?? {};
  const problems: string[] = [];
  for (const m of text.matchAll(COUNT_IN_PROSE)) {
    const at = m.index!;
    if (skip.some(([a, b]) => at >= a && at < b)) continue;
    if (Object.keys(allowed).some((phrase) => m[0].startsWith(phrase) || phrase.startsWith(m[0]))) continue;
    const line = text.slice(0, at).split('\n').length;
    problems.push(
      `${file}:${line}: "${m[0]}" is a count in prose that nothing checks: make it a claim in scripts/doc-facts.ts (or say it without a number)`,
    );
  }
  return problems;
}

// ---- the entry points

/** `text` of `file` with every claim's value written from its source. */
export function withFacts(file: string, text: string): string {
  let out = text;
  for (const c of CLAIMS.filter((c) => c.file === file)) {
    const value = c.value();
    out = out.replace(new RegExp(c.pattern.source, 'g'), (all: string, written: string) => all.replace(written, value));
  }
  return out;
}

/** Everything that is wrong in `file`'s counts and lists; [] when all are true. */
export function factProblems(file: string, text: string): string[] {
  const problems: string[] = [];
  for (const c of CLAIMS.filter((c) => c.file === file)) {
    const found = [...text.matchAll(new RegExp(c.pattern.source, 'g'))];
    if (found.length === 0) problems.push(`${file}: no sentence matches ${c.pattern} any more (its value comes from ${c.source}): update the claim in scripts/doc-facts.ts`);
    for (const m of found) {
      if (m[1] !== c.value()) problems.push(`${file}:${text.slice(0, m.index!).split('\n').length}: "${m[1]}" should be "${c.value()}" (${c.source}): run \`npm run docs\``);
    }
  }
  for (const l of LISTS.filter((l) => l.file === file)) {
    const written = l.written(text);
    const expected = [...l.expected()];
    if (written === undefined) {
      problems.push(`${file}: ${l.what} is not found any more: update its check in scripts/doc-facts.ts`);
      continue;
    }
    const same = l.ordered ? written.join('\n') === expected.join('\n') : [...written].sort().join('\n') === [...expected].sort().join('\n');
    if (!same) {
      const missing = expected.filter((e) => !written.includes(e));
      const extra = written.filter((w) => !expected.includes(w));
      problems.push(`${file}: ${l.what} is not the source's: missing ${JSON.stringify(missing)}, not in the source ${JSON.stringify(extra)}${l.ordered ? `, order ${JSON.stringify(written)}` : ''}`);
    }
  }
  problems.push(...unknownCodes(file, text), ...unclaimedCounts(file, text));
  return problems;
}
