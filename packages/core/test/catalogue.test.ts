import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRIC_LIST, METRICS, prometheusSeries, prometheusViews } from '../src/catalogue.ts';
import { hashToGauge, sha256Hex } from '../src/hash.ts';
import { setup } from './harness.ts';

// The documented telemetry contract (README "Metrics"), restated by hand on purpose: users write PromQL
// against these names, so a catalogue edit that changes one must also change this table.
const CONTRACT: Array<[string, string, string, string[], string]> = [
  ['hotreload.reloads', 'Counter', '{reload}', ['hotreload.target', 'hotreload.trigger', 'hotreload.outcome'], 'hotreload_reloads_total'],
  ['hotreload.duration', 'Histogram', 's', ['hotreload.target', 'hotreload.outcome'], 'hotreload_duration_seconds_bucket'],
  ['hotreload.stage.duration', 'Histogram', 's', ['hotreload.target', 'hotreload.stage', 'hotreload.outcome'], 'hotreload_stage_duration_seconds_bucket'],
  ['hotreload.config.hash', 'Gauge', '', ['hotreload.target'], 'hotreload_config_hash'],
  ['hotreload.config.info', 'Gauge', '', ['hotreload.target', 'hotreload.config.hash', 'hotreload.config.version'], 'hotreload_config_info'],
  ['hotreload.last_success.timestamp', 'Gauge', 's', ['hotreload.target'], 'hotreload_last_success_timestamp_seconds'],
  ['hotreload.last_reload.success', 'Gauge', '', ['hotreload.target'], 'hotreload_last_reload_success'],
  ['hotreload.consecutive_failures', 'Gauge', '{reload}', ['hotreload.target'], 'hotreload_consecutive_failures'],
  ['hotreload.in_progress', 'UpDownCounter', '{reload}', ['hotreload.target'], 'hotreload_in_progress'],
  ['hotreload.pending', 'UpDownCounter', '{request}', ['hotreload.target'], 'hotreload_pending'],
  ['hotreload.generation', 'Gauge', '{generation}', ['hotreload.target'], 'hotreload_generation'],
  ['hotreload.retained_versions', 'Gauge', '{version}', ['hotreload.target'], 'hotreload_retained_versions'],
  ['hotreload.heap.delta', 'Histogram', 'By', ['hotreload.target'], 'hotreload_heap_delta_bytes_bucket'],
  ['hotreload.resources.delta', 'Gauge', '{resource}', ['hotreload.target', 'hotreload.resource.type'], 'hotreload_resources_delta'],
  ['hotreload.eventloop.blocked', 'Histogram', 's', ['hotreload.target', 'hotreload.stage'], 'hotreload_eventloop_blocked_seconds_bucket'],
  // Wave 2: the newest candidate beside the active version, and the served certificate's expiry.
  ['hotreload.candidate.hash', 'Gauge', '', ['hotreload.target'], 'hotreload_candidate_hash'],
  ['hotreload.candidate.info', 'Gauge', '', ['hotreload.target', 'hotreload.config.hash', 'error.type'], 'hotreload_candidate_info'],
  ['hotreload.tls.not_after', 'Gauge', 's', ['hotreload.target'], 'hotreload_tls_not_after_timestamp_seconds'],
  ['hotreload.http.auth_failures', 'Counter', '{request}', ['hotreload.auth.reason'], 'hotreload_http_auth_failures_total'],
  ['hotreload.bundle.prune_failures', 'Counter', '{release}', ['hotreload.target'], 'hotreload_bundle_prune_failures_total'],
  // @reloadscope/cluster code upgrades.
  ['hotreload.cluster.workers', 'Gauge', '{worker}', ['hotreload.target', 'hotreload.cluster.generation'], 'hotreload_cluster_workers'],
  ['hotreload.cluster.drain.duration', 'Histogram', 's', ['hotreload.target'], 'hotreload_cluster_drain_duration_seconds_bucket'],
  ['hotreload.cluster.forced_kills', 'Counter', '{worker}', ['hotreload.target'], 'hotreload_cluster_forced_kills_total'],
  ['hotreload.cluster.worker_restarts', 'Counter', '{worker}', ['hotreload.target'], 'hotreload_cluster_worker_restarts_total'],
];

test('catalogue matches the documented telemetry contract row by row', () => {
  assert.equal(METRIC_LIST.length, CONTRACT.length);
  for (const [name, kind, unit, attrs, series] of CONTRACT) {
    const def = METRIC_LIST.find((d) => d.name === name);
    assert.ok(def, `missing ${name}`);
    assert.equal(def.kind, kind, name);
    assert.equal(def.unit, unit, name);
    assert.deepEqual([...def.attributes], attrs, name);
    assert.equal(prometheusSeries(def)[0], series, name);
  }
});

test('duration buckets have an exact 3 s edge', () => {
  assert.deepEqual([...(METRICS.duration.buckets ?? [])], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 3, 5, 10, 30]);
  assert.deepEqual(METRICS.stageDuration.buckets, METRICS.duration.buckets);
});

test('heap and event-loop buckets start at 0, so "did not grow / did not block" is its own bucket', () => {
  // Without a 0 edge, all-zero observations share (0, first edge] and histogram_quantile()
  // interpolates them to just under that edge (promtool: p99 of all-zero points = 0.00099 s).
  assert.equal(METRICS.heapDelta.buckets[0], 0);
  assert.equal(METRICS.eventloopBlocked.buckets[0], 0);
});

test('prometheusViews renames exactly the unit-suffixed instruments', () => {
  const views = prometheusViews();
  assert.deepEqual(
    views.map((v) => [v.instrumentName, v.name]).sort(),
    [
      ['hotreload.cluster.drain.duration', 'hotreload_cluster_drain_duration_seconds'],
      ['hotreload.duration', 'hotreload_duration_seconds'],
      ['hotreload.eventloop.blocked', 'hotreload_eventloop_blocked_seconds'],
      ['hotreload.heap.delta', 'hotreload_heap_delta_bytes'],
      ['hotreload.last_success.timestamp', 'hotreload_last_success_timestamp_seconds'],
      ['hotreload.stage.duration', 'hotreload_stage_duration_seconds'],
      ['hotreload.tls.not_after', 'hotreload_tls_not_after_timestamp_seconds'],
    ],
  );
  assert.equal(views.find((v) => v.instrumentName === 'hotreload.heap.delta')?.meterName, '@reloadscope/node');
  assert.equal(views.find((v) => v.instrumentName === 'hotreload.cluster.drain.duration')?.meterName, '@reloadscope/cluster');
});

test('hash gauge is the first 48 bits of the sha256, exact in float64', () => {
  const hex = sha256Hex('some config');
  const g = hashToGauge(hex);
  assert.ok(Number.isSafeInteger(g));
  assert.equal(g.toString(16).padStart(12, '0'), hex.slice(0, 12));
  assert.equal(hashToGauge('f'.repeat(64)), 2 ** 48 - 1);
  // A float64 round trip (what Prometheus stores) loses nothing.
  assert.equal(Number(String(g)), g);
});

test('core instruments are created with the catalogue name, unit, type and scope', async () => {
  const { reloads, metrics } = setup();
  await reloads.reload({ target: 'app-config', trigger: 'file' }, { load: () => 'v1', switch: () => undefined });
  // A version that expires (a certificate) also exports hotreload.tls.not_after.
  const notAfter = Date.UTC(2027, 0, 1);
  await reloads.reload({ target: 'tls' }, { load: () => 'cert', identify: () => ({ hash: sha256Hex('cert'), notAfter }), switch: () => undefined });
  const got = await metrics();
  assert.deepEqual(got.find((x) => x.name === 'hotreload.tls.not_after')?.points.map((p) => [p.attributes['hotreload.target'], p.value]), [['tls', notAfter / 1000]]);
  const types: Record<string, string> = {
    Counter: 'SUM:monotonic',
    Histogram: 'HISTOGRAM',
    UpDownCounter: 'SUM:nonmonotonic',
    Gauge: 'GAUGE',
  };
  for (const def of METRIC_LIST.filter((d) => d.owner === 'core')) {
    const m = got.find((x) => x.name === def.name);
    assert.ok(m, `${def.name} not exported`);
    assert.equal(m.unit, def.unit, def.name);
    assert.equal(m.type, types[def.kind], def.name);
    assert.equal(m.scope, '@reloadscope/core');
    for (const p of m.points) assert.deepEqual(Object.keys(p.attributes).sort(), [...def.attributes].sort(), def.name);
  }
  const hist = got.find((x) => x.name === 'hotreload.duration');
  assert.deepEqual(hist?.points[0]?.boundaries, [...(METRICS.duration.buckets ?? [])]);
});
