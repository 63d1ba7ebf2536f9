import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, post, type RunningApp, scrape, startApp, value } from './helpers.ts';

// --expose-gc makes collection deterministic: the probes run one full GC after each grace period.
const NODE_ARGS = ['--expose-gc', '--import', '@reloadscope/register'];
const ENV = {
  OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
  OTEL_EXPORTER_PROMETHEUS_PORT: '0',
  OTEL_TRACES_EXPORTER: 'none',
  RELOADSCOPE_RETAINED_GRACE_MS: '200',
  // Exact heap deltas (a full GC around each reading; the child runs with --expose-gc).
  RELOADSCOPE_EXACT_HEAP: 'true',
};

async function reloadTimes(app: RunningApp, target: string, kind: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const r = await post(`${app.base}/reload?target=${target}&kind=${kind}`);
    assert.equal(r.outcome, 'success', JSON.stringify(r));
  }
}

function retainedEquals(app: RunningApp, target: string, expected: number) {
  return eventually(async () => {
    const s = await scrape(app.info.metricsUrl!);
    return value(s, 'hotreload_retained_versions', { hotreload_target: target }) === expected ? s : undefined;
  }, `hotreload_retained_versions{hotreload_target="${target}"} == ${expected}`);
}

test('a timer closing over the old version: retained_versions rises and resources.delta shows the Timeout', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV, NODE_ARGS);
  await reloadTimes(app, 'leaky', 'leak-timer', 3); // versions 1 and 2 are unloaded but held by their timers
  const s = await retainedEquals(app, 'leaky', 2);
  assert.equal(value(s, 'hotreload_resources_delta', { hotreload_target: 'leaky', hotreload_resource_type: 'Timeout' }), 1);
  assert.equal((await fetch(`${app.base}/health`)).status, 200);
});

test('a clean target: retained_versions and resources.delta are 0 once a full GC has run', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV, NODE_ARGS);
  await reloadTimes(app, 'clean', 'clean', 3);
  // A leaking target reloaded afterwards proves that a full GC after the clean versions' grace
  // period has run (its count only rises after one), so the clean 0 below is measured, not assumed.
  await reloadTimes(app, 'witness', 'leak-timer', 3);
  const s = await retainedEquals(app, 'witness', 2);
  assert.equal(value(s, 'hotreload_retained_versions', { hotreload_target: 'clean' }), 0);
  const deltas = s.filter((x) => x.name === 'hotreload_resources_delta' && x.labels.hotreload_target === 'clean');
  assert.ok(deltas.length > 0, 'resource types are reported for the clean target');
  assert.deepEqual(deltas.filter((x) => x.value !== 0), [], 'nothing left behind by the clean target');
});

test('a listener that is never removed keeps old versions alive', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV, NODE_ARGS);
  await reloadTimes(app, 'listeners', 'leak-listener', 4);
  await retainedEquals(app, 'listeners', 3);
});

test('ESM: re-importing a module with a cache-busting query is reported as retained', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV, NODE_ARGS);
  await reloadTimes(app, 'plugin', 'esm', 3);
  await retainedEquals(app, 'plugin', 2);
});

test('a switch stage that busy-waits 150 ms is reported >= 0.1 s on that stage', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV, NODE_ARGS);
  await reloadTimes(app, 'blocky', 'block', 1);
  const s = await scrape(app.info.metricsUrl!);
  const sw = { hotreload_target: 'blocky', hotreload_stage: 'switch' };
  assert.equal(value(s, 'hotreload_eventloop_blocked_seconds_count', sw), 1);
  assert.ok((value(s, 'hotreload_eventloop_blocked_seconds_sum', sw) ?? 0) >= 0.1);
  assert.equal(value(s, 'hotreload_eventloop_blocked_seconds_bucket', { ...sw, le: '0.1' }), 0, 'not in any bucket at or below 0.1 s');
  assert.equal(value(s, 'hotreload_eventloop_blocked_seconds_bucket', { ...sw, le: '5' }), 1);
});

test('heap delta: a reload that keeps 8 MB is seen as growth, a clean one is not', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV, NODE_ARGS);
  await reloadTimes(app, 'grows', 'grow', 2);
  await reloadTimes(app, 'steady', 'clean', 2);
  const s = await eventually(async () => {
    const samples = await scrape(app.info.metricsUrl!);
    const done = value(samples, 'hotreload_heap_delta_bytes_count', { hotreload_target: 'steady' }) === 2;
    return done && value(samples, 'hotreload_heap_delta_bytes_count', { hotreload_target: 'grows' }) === 2 ? samples : undefined;
  }, 'heap-delta points of all four runs');
  const grows = { hotreload_target: 'grows' };
  assert.ok((value(s, 'hotreload_heap_delta_bytes_sum', grows) ?? 0) >= 2 * 7_000_000, 'about 8 MB per run');
  assert.equal(value(s, 'hotreload_heap_delta_bytes_bucket', { ...grows, le: '4194304' }), 0, 'no growing run below 4 MiB');
  const steady = { hotreload_target: 'steady' };
  // With gc exposed, both readings follow a full GC: a clean reload keeps (almost) nothing.
  assert.equal(value(s, 'hotreload_heap_delta_bytes_bucket', { ...steady, le: '1048576' }), 2, 'clean runs stay under 1 MiB');
});
