import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { METRIC_LIST, prometheusLabel, prometheusSeries, prometheusViews } from '../src/catalogue.ts';
import { hashToGauge, sha256Hex } from '../src/hash.ts';
import { ReloadInstrumentation } from '../src/index.ts';
import { currentSeriesProducer } from '../../register/src/current-series-producer.ts';
import { parsePrometheus } from '../../../test/support/prometheus.ts';
import { makeTarget } from './harness.ts';

test('the real exporter-prometheus endpoint shows the documented names and label sets', async (t) => {
  // As register builds it: core's Views, and the producer of the gauges on the reader.
  const exporter = new PrometheusExporter({ preventServerStart: true, metricProducers: [currentSeriesProducer(() => meterProvider, { views: prometheusViews() })] });
  const meterProvider: MeterProvider = new MeterProvider({ readers: [exporter], views: prometheusViews() });
  const server = createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.close();
    await meterProvider.shutdown();
  });
  const reloads = new ReloadInstrumentation();
  reloads.setMeterProvider(meterProvider);

  const target = makeTarget('v0');
  await reloads.reload({ target: 'app-config', trigger: 'file' }, target.stages('v1'));
  await reloads.reload({ target: 'app-config', trigger: 'file' }, {
    ...target.stages('v2'),
    verify: () => {
      throw new Error('nope');
    },
  });

  await reloads.reload({ target: 'tls' }, { load: () => 'cert', identify: () => ({ hash: sha256Hex('cert'), notAfter: Date.UTC(2027, 0, 1) }), switch: () => undefined });

  const { port } = server.address() as AddressInfo;
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  const samples = parsePrometheus(await res.text()).filter((s) => s.name.startsWith('hotreload_'));
  const names = new Set(samples.map((s) => s.name));

  for (const def of METRIC_LIST.filter((d) => d.owner === 'core')) {
    for (const series of prometheusSeries(def)) assert.ok(names.has(series), `missing ${series}; got ${[...names].join(' ')}`);
  }
  // No name outside the catalogue (e.g. an un-renamed hotreload_duration_bucket).
  const allowed = new Set(METRIC_LIST.flatMap((d) => prometheusSeries(d)));
  for (const n of names) assert.ok(allowed.has(n), `unexpected series ${n}`);

  const scope = ['otel_scope_name', 'otel_scope_version'];
  for (const def of METRIC_LIST.filter((d) => d.owner === 'core')) {
    const expected = [...def.attributes.map(prometheusLabel), ...(def.kind === 'Histogram' ? ['le'] : []), ...scope].sort();
    for (const s of samples.filter((x) => x.name === prometheusSeries(def)[0])) {
      assert.deepEqual(Object.keys(s.labels).sort(), expected, def.prometheus);
      assert.equal(s.labels.otel_scope_name, '@reloadscope/core');
    }
  }
  const find = (name: string, labels: Record<string, string>) =>
    samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  assert.equal(find('hotreload_reloads_total', { hotreload_outcome: 'success', hotreload_trigger: 'file' }), 1);
  assert.equal(find('hotreload_reloads_total', { hotreload_outcome: 'failure' }), 1);
  assert.equal(find('hotreload_reloads_total', { hotreload_outcome: 'timeout' }), 0);
  assert.equal(find('hotreload_config_hash', { hotreload_target: 'app-config' }), hashToGauge(sha256Hex('v1')));
  assert.equal(find('hotreload_config_info', { hotreload_config_hash: sha256Hex('v1') }), 1);
  // The refused v2 is the newest candidate, with why; the active hash stays v1's.
  assert.equal(find('hotreload_candidate_hash', { hotreload_target: 'app-config' }), hashToGauge(sha256Hex('v2')));
  assert.equal(find('hotreload_candidate_info', { hotreload_config_hash: sha256Hex('v2'), error_type: 'Error' }), 1);
  assert.equal(find('hotreload_tls_not_after_timestamp_seconds', { hotreload_target: 'tls' }), Date.UTC(2027, 0, 1) / 1000);
  assert.equal(find('hotreload_consecutive_failures', { hotreload_target: 'app-config' }), 1);
  assert.equal(find('hotreload_duration_seconds_bucket', { hotreload_outcome: 'success', le: '3' }), 1);
  assert.equal(find('hotreload_duration_seconds_count', { hotreload_outcome: 'failure' }), 1);
});
