import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashToGauge, METRIC_LIST, prometheusSeries } from '@reloadscope/core';
import { eventually, post, scrape, startApp, value } from './helpers.ts';

const ENV = {
  OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
  OTEL_EXPORTER_PROMETHEUS_PORT: '0',
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_SERVICE_NAME: 'prom-test',
};

test('node --import @reloadscope/register: the app endpoint shows exactly the documented series', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV);
  assert.equal(app.info.metrics, 'started');
  assert.match(app.info.metricsUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const url = app.info.metricsUrl!;

  assert.equal((await post(`${app.base}/reload?target=app-config&kind=clean`)).outcome, 'success');
  const ok = await post(`${app.base}/reload?target=app-config&kind=clean`); // unloads the first version
  assert.equal(ok.outcome, 'success');
  const bad = await post(`${app.base}/reload?target=app-config&kind=fail`);
  assert.equal(bad.outcome, 'failure');
  assert.equal((await post(`${app.base}/reload?target=tls&kind=expiring`)).outcome, 'success');

  const samples = await eventually(async () => {
    const s = await scrape(url);
    return value(s, 'hotreload_heap_delta_bytes_count', { hotreload_target: 'app-config' }) === 3 ? s : undefined;
  }, 'heap delta of all three runs on the endpoint');

  const t0 = { hotreload_target: 'app-config' };
  const series = (outcome: string) => value(samples, 'hotreload_reloads_total', { ...t0, hotreload_trigger: 'api', hotreload_outcome: outcome });
  assert.equal(series('success'), 2);
  assert.equal(series('failure'), 1);
  assert.equal(series('timeout'), 0, 'every outcome series exists from first use at 0');
  assert.equal(series('rollback'), 0);
  assert.equal(series('unchanged'), 0);

  assert.equal(value(samples, 'hotreload_duration_seconds_count', { ...t0, hotreload_outcome: 'success' }), 2);
  assert.equal(value(samples, 'hotreload_duration_seconds_bucket', { ...t0, hotreload_outcome: 'success', le: '3' }), 2, 'exact 3 s bucket edge');
  assert.equal(value(samples, 'hotreload_stage_duration_seconds_count', { ...t0, hotreload_stage: 'switch', hotreload_outcome: 'success' }), 2);
  assert.equal(value(samples, 'hotreload_stage_duration_seconds_count', { ...t0, hotreload_stage: 'load', hotreload_outcome: 'failure' }), 1);
  assert.equal(value(samples, 'hotreload_config_hash', t0), hashToGauge(String(ok.hash)), 'hash gauge is the ACTIVE version after a failed reload');
  assert.equal(value(samples, 'hotreload_config_info', { ...t0, hotreload_config_hash: String(ok.hash) }), 1);
  assert.equal(value(samples, 'hotreload_generation', t0), 2);
  assert.equal(value(samples, 'hotreload_consecutive_failures', t0), 1);
  assert.equal(value(samples, 'hotreload_last_reload_success', t0), 0);
  assert.ok((value(samples, 'hotreload_last_success_timestamp_seconds', t0) ?? 0) > Date.now() / 1000 - 600);
  assert.equal(value(samples, 'hotreload_in_progress', t0), 0);
  assert.equal(value(samples, 'hotreload_pending', t0), 0);
  // The newest candidate: the failed run failed in load, before it identified anything, so the
  // newest known candidate is still the active version, with no error. And an expiring version's end.
  assert.equal(value(samples, 'hotreload_candidate_hash', t0), hashToGauge(String(ok.hash)));
  assert.equal(value(samples, 'hotreload_candidate_info', { ...t0, hotreload_config_hash: String(ok.hash) }), 1);
  assert.equal(samples.find((s) => s.name === 'hotreload_candidate_info' && s.labels.hotreload_target === 'app-config')?.labels.error_type, '');
  assert.equal(value(samples, 'hotreload_tls_not_after_timestamp_seconds', { hotreload_target: 'tls' }), Date.UTC(2027, 0, 1) / 1000);
  // node probes
  assert.equal(value(samples, 'hotreload_retained_versions', t0), 0);
  const resources = samples.filter((s) => s.name === 'hotreload_resources_delta' && s.labels.hotreload_target === 'app-config');
  assert.ok(resources.length > 0, 'resource types are reported for the target');
  assert.deepEqual(resources.filter((s) => s.value !== 0), [], 'a clean reload leaves no resource behind');
  // One point per run (three runs), on whichever stage blocked most; each stage's own is on its span.
  const blockedCounts = samples.filter((s) => s.name === 'hotreload_eventloop_blocked_seconds_count' && s.labels.hotreload_target === 'app-config');
  assert.equal(
    blockedCounts.reduce((n, s) => n + s.value, 0),
    3,
  );

  // Every catalogue series is present under its contract name, and nothing else is named hotreload_*.
  // Config-owned series exist only in a process that runs the HTTP trigger or activates bundles (this app does neither);
  // cluster-owned ones only in a @reloadscope/cluster supervisor.
  const names = new Set(samples.map((s) => s.name));
  for (const def of METRIC_LIST.filter((d) => d.owner !== 'config' && d.owner !== 'cluster')) {
    for (const name of prometheusSeries(def)) assert.ok(names.has(name), `missing ${name}`);
  }
  const allowed = new Set(METRIC_LIST.flatMap((d) => prometheusSeries(d)));
  for (const def of METRIC_LIST) if (def.kind === 'Histogram') allowed.add(`${def.prometheus}_bucket`);
  const stray = [...names].filter((n) => n.startsWith('hotreload') && !allowed.has(n));
  assert.deepEqual(stray, [], 'no doubled suffixes or unexpected hotreload series');

  // The upstream runtime metrics are there too (nothing of theirs duplicated by reloadscope).
  assert.ok([...names].some((n) => n === 'nodejs_eventloop_utilization'), 'instrumentation-runtime-node is registered');
  assert.ok([...names].every((n) => !n.startsWith('hotreload') || !n.includes('nodejs')));

  // Config content never reaches the metrics.
  const text = await (await fetch(url)).text();
  assert.ok(!text.includes('hunter2'));
});

test('register is a process-wide singleton: a second copy of the package is a no-op', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV);
  const res = await fetch(`${app.base}/second-copy`);
  assert.deepEqual(await res.json(), { same: true, sameInstrumentation: true });
  assert.equal((await fetch(`${app.base}/health`)).status, 200);
  assert.doesNotMatch(app.stderr(), /EADDRINUSE|already in use/, 'the second copy started no second endpoint');
});
