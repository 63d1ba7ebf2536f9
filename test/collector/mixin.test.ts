/**
 * The monitoring mixin (collector/mixin) as its users evaluate it: with go-jsonnet (`jsonnet`, built by
 * scripts/setup-stack.sh), its rules through promtool, its default rendering against the files the chart
 * and docker-compose ship, and a rendering with another job selector against every expression.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import type { RuleFile } from '../../scripts/operator/alert-rules.ts';
import { selectorsWithout, vectorSelectors } from '../../scripts/operator/promql.ts';
import { DEFAULT_SELECTOR } from '../../scripts/operator/selector.ts';
import { dashboardExpressions } from '../e2e/dashboard.ts';
import { COLLECTOR_DIR, stackBinaries } from '../e2e/harness.ts';

const run = promisify(execFile);
const MIXIN_DIR = join(COLLECTOR_DIR, 'mixin');
const RULES_FILE = join(COLLECTOR_DIR, 'prometheus', 'rules', 'hotreload.rules.yml');
const RULE_TESTS = join(COLLECTOR_DIR, 'prometheus', 'tests', 'hotreload.rules.test.yml');
/** Several matchers, quotes and regex characters: what a real override looks like. */
const OTHER_SELECTOR = 'job=~"checkout|billing", namespace="prod-eu"';

interface Dashboard {
  panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

interface Rendered {
  prometheusAlerts: RuleFile;
  grafanaDashboards: Record<string, Dashboard>;
}

const work = mkdtempSync(join(tmpdir(), 'reloadscope-mixin-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** The mixin evaluated by go-jsonnet, the way `jsonnet -J vendor -e …` does for its users. */
async function render(selector?: string): Promise<Rendered> {
  const { jsonnet } = stackBinaries('jsonnet');
  const override = selector === undefined ? '' : ` + { _config+:: { reloadscopeSelector: ${JSON.stringify(selector)} } }`;
  const mixin = `((import "mixin.libsonnet")${override})`;
  const { stdout } = await run(
    jsonnet,
    ['-J', MIXIN_DIR, '-e', `{ prometheusAlerts: ${mixin}.prometheusAlerts, grafanaDashboards: ${mixin}.grafanaDashboards }`],
    { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
  );
  return JSON.parse(stdout) as Rendered;
}

async function promtool(args: string[]): Promise<{ code: number; output: string }> {
  const { promtool: bin } = stackBinaries('promtool');
  try {
    const { stdout, stderr } = await run(bin, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Writes rendered rules as a rules file, and the shipped promtool tests pointed at it; returns the test file. */
function writeRulesAndTests(name: string, rules: RuleFile): { rules: string; tests: string } {
  const rulesPath = join(work, `${name}.rules.yml`);
  writeFileSync(rulesPath, stringify(rules));
  const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as { rule_files: string[] };
  assert.deepEqual(tests.rule_files, ['../rules/hotreload.rules.yml'], 'the shipped tests load the shipped rules file');
  tests.rule_files = [rulesPath];
  const testsPath = join(work, `${name}.rules.test.yml`);
  writeFileSync(testsPath, stringify(tests));
  return { rules: rulesPath, tests: testsPath };
}

const variableSelector = (query: string | { query: string } | undefined) => {
  const text = typeof query === 'string' ? query : (query?.query ?? '');
  const m = /^label_values\((.*),\s*\w+\)$/s.exec(text);
  assert.ok(m, `a label_values() variable query: ${text}`);
  return m[1]!;
};

/** Every PromQL text of a dashboard: panel queries and query variables' series selectors. */
function dashboardPromql(d: Dashboard): Array<{ where: string; expr: string }> {
  return [
    ...dashboardExpressions(d).flatMap((p) => p.exprs.map((expr) => ({ where: `panel "${p.title}"`, expr }))),
    ...d.templating.list.filter((v) => v.type === 'query').map((v) => ({ where: `variable ${v.name}`, expr: variableSelector(v.query) })),
  ];
}

const ruleExprs = (rules: RuleFile) => rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })));

describe('the monitoring mixin', () => {
  test('rendered with its default _config, it is exactly what the chart and docker-compose ship', async () => {
    const mixin = await render();
    const compose = parse(readFileSync(join(COLLECTOR_DIR, 'docker-compose.yml'), 'utf8'));
    const mountedDir = (service: string, inside: string) => {
      const volume = (compose.services[service].volumes as string[]).find((v) => v.split(':')[1] === inside);
      assert.ok(volume, `${service} mounts ${inside}`);
      return join(COLLECTOR_DIR, volume.split(':')[0]!);
    };
    // docker-compose: Prometheus loads every rules file of the mounted directory; Grafana every dashboard.
    const rulesDir = mountedDir('prometheus', '/etc/prometheus/rules');
    const ruleFiles = readdirSync(rulesDir).filter((f) => f.endsWith('.yml'));
    assert.deepEqual(ruleFiles, ['hotreload.rules.yml']);
    const dashboardsDir = mountedDir('grafana', '/var/lib/grafana/dashboards/reloadscope');
    const dashboardFiles = readdirSync(dashboardsDir).filter((f) => f.endsWith('.json'));
    assert.deepEqual(Object.keys(mixin.grafanaDashboards), dashboardFiles);

    const shippedRules = [join(rulesDir, 'hotreload.rules.yml'), join(COLLECTOR_DIR, 'chart', 'files', 'hotreload.rules.yml')];
    for (const file of shippedRules) assert.deepEqual(mixin.prometheusAlerts, parse(readFileSync(file, 'utf8')), file);
    const shippedDashboards = [join(dashboardsDir, 'reloadscope.json'), join(COLLECTOR_DIR, 'chart', 'files', 'reloadscope.json')];
    for (const file of shippedDashboards) {
      assert.deepEqual(mixin.grafanaDashboards['reloadscope.json'], JSON.parse(readFileSync(file, 'utf8')), file);
    }
  });

  test('its rules pass promtool check rules and every promtool unit test of the rules file', async () => {
    const files = writeRulesAndTests('default', (await render()).prometheusAlerts);
    const check = await promtool(['check', 'rules', files.rules]);
    assert.equal(check.code, 0, check.output);
    const shipped = parse(readFileSync(RULES_FILE, 'utf8')) as RuleFile;
    assert.match(check.output, new RegExp(`SUCCESS: ${shipped.groups.flatMap((g) => g.rules).length} rules found`));
    const tests = await promtool(['test', 'rules', files.tests]);
    assert.equal(tests.code, 0, tests.output);
    assert.match(tests.output, /SUCCESS/);
  });

  test('rendered with another selector, that selector begins every series selector of every alert, panel query and variable', async () => {
    const [mixin, defaults] = await Promise.all([render(OTHER_SELECTOR), render()]);
    const dashboard = mixin.grafanaDashboards['reloadscope.json']!;
    const exprs = [...ruleExprs(mixin.prometheusAlerts), ...dashboardPromql(dashboard)];
    assert.ok(exprs.length > 40, `${exprs.length} expressions`);
    for (const { where, expr } of exprs) {
      assert.ok(vectorSelectors(expr).length > 0, `${where} selects no series: ${expr}`);
      assert.deepEqual(selectorsWithout(expr, OTHER_SELECTOR), [], `${where}: ${expr}`);
      assert.ok(!expr.includes(DEFAULT_SELECTOR), `${where} still carries the default selector: ${expr}`);
    }
    // Nothing but the selector changed.
    assert.equal(JSON.stringify(mixin).replaceAll(JSON.stringify(OTHER_SELECTOR).slice(1, -1), JSON.stringify(DEFAULT_SELECTOR).slice(1, -1)), JSON.stringify(defaults));
    const check = await promtool(['check', 'rules', writeRulesAndTests('other', mixin.prometheusAlerts).rules]);
    assert.equal(check.code, 0, check.output);
  });

  test('the selector filters: one that keeps the test series passes every promtool test, one that excludes them silences every alert', async () => {
    const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as {
      tests: Array<{ input_series: Array<{ series: string }>; alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const jobs = new Set(tests.tests.flatMap((t) => t.input_series.map((s) => /\bjob="([^"]*)"/.exec(s.series)?.[1])));
    assert.deepEqual([...jobs], ['svc'], 'every test series is of job "svc"');

    const keeping = await promtool(['test', 'rules', writeRulesAndTests('keeping', (await render('job="svc"')).prometheusAlerts).tests]);
    assert.equal(keeping.code, 0, keeping.output);

    const excluding = await promtool(['test', 'rules', writeRulesAndTests('excluding', (await render('job="other"')).prometheusAlerts).tests]);
    assert.notEqual(excluding.code, 0, 'with job="other" no test series is selected, so no alert can fire');
    const firing = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    const rules = parse(readFileSync(RULES_FILE, 'utf8')) as RuleFile;
    const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    assert.deepEqual([...firing].sort(), [...alerts].sort(), 'every alert has a firing case');
    // promtool prints one block per failed expectation: `alertname: X, time: …, exp:[…], got:[…]`.
    const failures = excluding.output.split('alertname: ').slice(1).map((block) => ({
      alert: /^\w+/.exec(block)![0],
      silent: /\bgot:\[\]/.test(block),
    }));
    for (const name of firing) {
      const own = failures.filter((f) => f.alert === name);
      assert.ok(own.length > 0, `${name} fired with a selector that selects no test series`);
      assert.ok(own.every((f) => f.silent), `${name} raised something with a selector that selects no test series`);
    }
  });
});
