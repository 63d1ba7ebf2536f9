/**
 * The generator of the operator artefacts (scripts/operator): the committed dashboard, mixin files and
 * README blocks are what it makes now; a catalogue change flows into the dashboard or stops it with the
 * panel's name; the rules file's selector rule and the dashboard's alert names are enforced; an edited
 * generated file is found. The mixin itself is evaluated in mixin.test.ts.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import { ATTR_STAGE, ATTR_TARGET, METRICS, type MetricDefinition } from '@reloadscope/core';
import { readRules, replaceSelector, RULES_PATH, rulesWithSelector } from '../../scripts/operator/alert-rules.ts';
import { DASHBOARD_PATH, operatorArtefacts, staleArtefacts, unknownAlertMentions } from '../../scripts/operator/artefacts.ts';
import { buildDashboard, type Catalogue } from '../../scripts/operator/dashboard.ts';
import { dashboardRows } from '../../scripts/operator/prose.ts';
import { vectorSelectors } from '../../scripts/operator/promql.ts';
import { DEFAULT_SELECTOR, PLACEHOLDER } from '../../scripts/operator/selector.ts';
import { dashboardExpressions } from '../e2e/dashboard.ts';
import { REPO_ROOT } from '../e2e/harness.ts';

const root = pathToFileURL(`${REPO_ROOT}/`);

interface Dashboard {
  panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
  templating: { list: Array<{ name: string; type: string; query?: { query: string } }> };
}

const build = (catalogue?: Catalogue) => buildDashboard(DEFAULT_SELECTOR, catalogue) as Dashboard;
const queries = (d: Dashboard) => [
  ...dashboardExpressions(d).flatMap((p) => p.exprs.map((expr) => ({ title: p.title, expr }))),
  ...d.templating.list.filter((v) => v.type === 'query').map((v) => ({ title: `variable ${v.name}`, expr: v.query!.query })),
];
const withChanged = (key: keyof typeof METRICS, change: Partial<MetricDefinition>): Catalogue => ({ ...METRICS, [key]: { ...METRICS[key], ...change } });

/** A copy of what the generator reads and writes, in a scratch directory it can be pointed at. */
function scratchRoot(): URL {
  const dir = mkdtempSync(join(tmpdir(), 'reloadscope-artefacts-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (const a of operatorArtefacts(root)) {
    mkdirSync(dirname(join(dir, a.path)), { recursive: true });
    cpSync(join(REPO_ROOT, a.path), join(dir, a.path));
  }
  mkdirSync(dirname(join(dir, RULES_PATH)), { recursive: true });
  cpSync(join(REPO_ROOT, RULES_PATH), join(dir, RULES_PATH));
  return pathToFileURL(`${dir}/`);
}

describe('operator artefacts', () => {
  test('the committed dashboard, mixin files and README blocks are what the catalogue and the rules file generate', () => {
    assert.deepEqual(staleArtefacts(root), [], 'run `npm run docs`');
  });

  test('an edited generated file, a stale count in a README block and a missing file are each found', () => {
    const scratch = scratchRoot();
    assert.deepEqual(staleArtefacts(scratch), []);
    const at = (path: string) => new URL(path, scratch);
    const dashboard = JSON.parse(readFileSync(at(DASHBOARD_PATH), 'utf8'));
    dashboard.panels[1].targets[0].expr = 'sum(hotreload_reloads_total)';
    writeFileSync(at(DASHBOARD_PATH), `${JSON.stringify(dashboard, null, 2)}\n`);
    const readme = readFileSync(at('README.md'), 'utf8');
    assert.match(readme, /\*\*\d+ alerts in \d+ groups:\*\*/);
    writeFileSync(at('README.md'), readme.replace(/\*\*\d+ alerts in/, '**8 alerts in'));
    rmSync(at('collector/mixin/generated/hotreload.rules.json'));
    assert.deepEqual(staleArtefacts(scratch).sort(), [DASHBOARD_PATH, 'README.md', 'collector/mixin/generated/hotreload.rules.json'].sort());
  });

  test('a renamed series flows into every query and variable that reads it, and nowhere else', () => {
    const before = queries(build());
    const after = queries(build(withChanged('reloads', { prometheus: 'hotreload_runs' })));
    assert.equal(after.length, before.length);
    let changed = 0;
    for (const [i, q] of before.entries()) {
      const expected = q.expr.replaceAll('hotreload_reloads_total', 'hotreload_runs_total');
      if (expected !== q.expr) changed += 1;
      assert.equal(after[i]!.expr, expected, q.title);
    }
    assert.ok(changed >= 5, `${changed} queries read the reload counter`);
  });

  test('an instrument that gains or loses hotreload.target gains or loses the target filter', () => {
    const auth = (d: Dashboard) => queries(d).find((q) => q.expr.includes(METRICS.httpAuthFailures.prometheus))!.expr;
    assert.doesNotMatch(auth(build()), /hotreload_target/, 'the auth failures have no target attribute');
    const gained = auth(build(withChanged('httpAuthFailures', { attributes: [...METRICS.httpAuthFailures.attributes, ATTR_TARGET] })));
    assert.match(gained, /hotreload_target=~"\$target"/);
  });

  test('a dropped attribute or a changed kind stops the generator, naming the panel', () => {
    const noStage = METRICS.stageDuration.attributes.filter((a) => a !== ATTR_STAGE);
    assert.throws(() => build(withChanged('stageDuration', { attributes: noStage })), /panel "Stage duration p50 \/ p99".*hotreload_stage/);
    assert.throws(() => build(withChanged('duration', { kind: 'Gauge' })), /panel "Reload duration p50 \/ p99".*no _bucket series/);
    assert.throws(() => build(withChanged('reloads', { attributes: [] })), /hotreload_outcome|hotreload_target/);
  });

  test('the rows and panels operators know are all there, in their order', () => {
    const rows = dashboardRows(build()).map((r) => [r.title, r.panels.length]);
    assert.deepEqual(rows, [
      ['Reloads', 8],
      ['Versions and fleet drift', 4],
      ['Memory and runtime', 4],
      ['TLS certificates and refused candidates', 5],
      ['Cluster code upgrades', 3],
    ]);
  });

  test('every series selector of the rules file begins with the default selector; one that does not is refused by name', () => {
    const rules = readRules(root);
    assert.doesNotThrow(() => rulesWithSelector(rules, DEFAULT_SELECTOR, PLACEHOLDER));
    const broken = {
      groups: rules.groups.map((g) => ({
        ...g,
        rules: g.rules.map((r) => (r.alert === 'HotReloadStuck' ? { ...r, expr: r.expr.replace('hotreload_in_progress{job=~".+"}', 'hotreload_in_progress') } : r)),
      })),
    };
    assert.throws(() => rulesWithSelector(broken, DEFAULT_SELECTOR, PLACEHOLDER), /rule HotReloadStuck \(group hotreload\).*hotreload_in_progress\b/);
    assert.throws(() => replaceSelector('m{a="b", job=~".+"}', DEFAULT_SELECTOR, PLACEHOLDER), /must begin with/);
    assert.throws(() => replaceSelector('m{job=~".+"x}', DEFAULT_SELECTOR, PLACEHOLDER), /must begin with/);
    assert.equal(replaceSelector('rate(m{ job=~".+" , a="b"}[5m]) / n{job=~".+"}', DEFAULT_SELECTOR, 'job="x"'), 'rate(m{ job="x" , a="b"}[5m]) / n{job="x"}');
  });

  test('a panel description that names an alert the rules file does not have is refused', () => {
    const rules = readRules(root);
    assert.deepEqual(unknownAlertMentions(build(), rules), []);
    const renamed = { groups: rules.groups.map((g) => ({ ...g, rules: g.rules.map((r) => (r.alert === 'HotReloadSlow' ? { ...r, alert: 'HotReloadSluggish' } : r)) })) };
    assert.deepEqual(unknownAlertMentions(build(), renamed), ['panel "Reload duration p50 / p99" names HotReloadSlow']);
  });
});

describe('vectorSelectors', () => {
  const names = (expr: string) => vectorSelectors(expr).map((s) => `${s.metric}{${s.matchers}}`);

  test('finds series, not aggregations, functions, keywords, label lists, strings or durations', () => {
    assert.deepEqual(names('count by (job, t) (count_values by (job, t) ("hash", h{job=~".+"}))'), ['h{job=~".+"}']);
    assert.deepEqual(names('a{x="}, y"} * on (job) group_left (error_type) topk by (job) (1, b) ^ 0 unless c offset 5m'), ['a{x="}, y"}', 'b{}', 'c{}']);
    assert.deepEqual(names('time() - max by (instance) (m{job="a"}) < 7 * 86400'), ['m{job="a"}']);
    assert.deepEqual(names('sum(rate(m{a="b"}[$__rate_interval])) / max_over_time(n[5m:1m]) > bool 0.2e1'), ['m{a="b"}', 'n{}']);
    assert.deepEqual(names('{__name__=~"hotreload_.+"} and sum without (le) (x)'), ['{__name__=~"hotreload_.+"}', 'x{}']);
  });
});
