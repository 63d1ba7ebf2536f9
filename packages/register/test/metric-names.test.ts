import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRIC_LIST, prometheusViews } from '@reloadscope/core';
import { sharedViews, translatedName } from '../src/metric-names.ts';

test('translatedName: the OpenTelemetry → Prometheus translation for the units reloadscope uses', () => {
  assert.equal(translatedName({ name: 'hotreload.stage.duration', unit: 's' }), 'hotreload_stage_duration_seconds');
  assert.equal(translatedName({ name: 'hotreload.heap.delta', unit: 'By' }), 'hotreload_heap_delta_bytes');
  assert.equal(translatedName({ name: 'hotreload.last_success.timestamp', unit: 's' }), 'hotreload_last_success_timestamp_seconds');
  assert.equal(translatedName({ name: 'x.seconds', unit: 's' }), 'x_seconds', 'the unit word is not repeated');
  assert.equal(translatedName({ name: 'hotreload.reloads', unit: '{reload}' }), 'hotreload_reloads');
  assert.equal(translatedName({ name: 'hotreload.config.hash', unit: '' }), 'hotreload_config_hash');
  assert.equal(translatedName({ name: 'x', unit: 'ms' }), undefined, 'an unknown unit is not guessed');
});

test('register\'s Views: exactly the renames the translation cannot do, and never a histogram (a View would fix its aggregation on every reader)', () => {
  const views = sharedViews();
  for (const v of views) {
    const def = METRIC_LIST.find((d) => d.name === v.instrumentName)!;
    assert.notEqual(def.kind, 'Histogram', `${def.name}: a View would keep OTLP from exporting it as an exponential histogram`);
    assert.notEqual(translatedName(def), def.prometheus);
    assert.equal(v.name, def.prometheus);
  }
  for (const def of METRIC_LIST) {
    const viewed = views.some((v) => v.instrumentName === def.name);
    assert.equal(viewed, translatedName(def) !== def.prometheus, `${def.name}: pushed under a name that becomes ${def.prometheus}`);
  }
  // The pull path still renames everything prometheusViews() lists (CatalogueNamesSerializer): nothing is lost.
  assert.ok(views.length < prometheusViews().length);
});
