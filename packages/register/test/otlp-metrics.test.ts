/**
 * OTLP metrics push (OTEL_METRICS_EXPORTER=otlp) from a real `node --import @reloadscope/register`
 * child to a real OTLP/HTTP receiver, next to the Prometheus endpoint.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRIC_LIST } from '@reloadscope/core';
import { eventually, freePort, type OtlpRequest, post, scrape, startApp, startOtlpReceiver, value } from './helpers.ts';

interface OtlpMetric {
  name: string;
  unit?: string;
  sum?: { isMonotonic?: boolean; dataPoints: unknown[] };
  gauge?: { dataPoints: unknown[] };
  histogram?: { dataPoints: unknown[] };
  exponentialHistogram?: {
    aggregationTemporality: number;
    dataPoints: Array<{ count: string | number; sum?: number; scale: number; attributes: Array<{ key: string; value: { stringValue?: string } }> }>;
  };
}
interface MetricsBody {
  resourceMetrics: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeMetrics: Array<{ scope: { name: string }; metrics: OtlpMetric[] }> }>;
}

/** The newest export's metrics of reloadscope's own meters, by OTLP name. */
function reloadscopeMetrics(requests: OtlpRequest[]): Map<string, OtlpMetric> {
  const out = new Map<string, OtlpMetric>();
  for (const r of requests) {
    if (r.path !== '/v1/metrics') continue;
    for (const rm of (r.body as MetricsBody).resourceMetrics) {
      for (const sm of rm.scopeMetrics) {
        if (!sm.scope.name.startsWith('@reloadscope/')) continue;
        for (const m of sm.metrics) out.set(m.name, m);
      }
    }
  }
  return out;
}

/**
 * The OpenTelemetry → Prometheus name translation of the Collector's exporters (the spec's
 * "OTLP Metric points to Prometheus"), restated for the units reloadscope uses: dots become
 * underscores, `s` and `By` add `_seconds` / `_bytes` unless the name has that word already,
 * `{annotations}` add nothing.
 */
function translated(name: string, unit: string | undefined): string {
  const words = name.split(/[^a-zA-Z0-9:]+/).filter(Boolean);
  const suffix = ({ s: 'seconds', By: 'bytes' } as Record<string, string>)[unit ?? ''];
  if (suffix && !words.includes(suffix)) words.push(suffix);
  return words.join('_');
}

const BASE_ENV = {
  OTEL_SERVICE_NAME: 'otlp-metrics-test',
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
  OTEL_EXPORTER_PROMETHEUS_PORT: '0',
  RELOADSCOPE_RUNTIME_METRICS: 'false',
};

test('exponential push and the Prometheus endpoint at once: every reloadscope histogram is exponential on OTLP, classic on the scrape, under the contract names', async (t) => {
  const receiver = await startOtlpReceiver(t);
  const app = await startApp(t, 'app.mjs', {
    ...BASE_ENV,
    OTEL_METRICS_EXPORTER: 'prometheus,otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram',
    OTEL_METRIC_EXPORT_INTERVAL: '60000', // exports come from the flushes below
  });
  assert.equal(app.info.metrics, 'started');
  for (const kind of ['clean', 'clean', 'fail', 'expiring']) await post(`${app.base}/reload?target=${kind === 'expiring' ? 'tls' : 'app-config'}&kind=${kind}`);
  await fetch(`${app.base}/flush`, { method: 'POST' });
  const pushed = await eventually(() => {
    const m = reloadscopeMetrics(receiver.requests);
    return m.has('hotreload.reloads') && m.size > 10 ? m : undefined;
  }, 'a metrics export');
  assert.ok(receiver.requests.filter((r) => r.path === '/v1/metrics').every((r) => r.contentType?.includes('application/json')));

  // Every histogram of the instrument and the probes: exponential, never explicit buckets.
  const histograms = METRIC_LIST.filter((d) => d.kind === 'Histogram' && (d.owner === 'core' || d.owner === 'node'));
  assert.ok(histograms.length >= 4);
  for (const def of histograms) {
    const m = pushed.get(def.name);
    assert.ok(m, `${def.name} pushed under its OpenTelemetry name (pushed: ${[...pushed.keys()].sort()})`);
    assert.equal(m.histogram, undefined, `${def.name} must not be an explicit-bucket histogram`);
    assert.ok(m.exponentialHistogram, `${def.name} is an exponential histogram`);
    assert.equal(m.exponentialHistogram.aggregationTemporality, 2, `${def.name}: cumulative by default`);
  }
  const has = (p: { attributes: Array<{ key: string; value: { stringValue?: string } }> }, key: string, v: string) =>
    p.attributes.some((a) => a.key === key && a.value.stringValue === v);
  const switches = pushed
    .get('hotreload.stage.duration')!
    .exponentialHistogram!.dataPoints.find((p) => has(p, 'hotreload.stage', 'switch') && has(p, 'hotreload.target', 'app-config'));
  assert.equal(Number(switches?.count), 2, 'the switches of the two clean runs');

  // Names: what the Collector's translation makes of each pushed metric is the contract's name.
  const contract = new Map(METRIC_LIST.map((d) => [d.name, d.prometheus]));
  for (const [name, m] of pushed) {
    const def = METRIC_LIST.find((d) => d.name === name || d.prometheus === name);
    assert.ok(def, `${name} is a catalogue instrument`);
    assert.equal(translated(m.name, m.unit), contract.get(def.name), `${name} [${m.unit}] translates to the contract name`);
  }

  // The scrape, at the same time: the same histograms with the classic buckets of the catalogue.
  const samples = await scrape(app.info.metricsUrl!);
  assert.equal(value(samples, 'hotreload_duration_seconds_bucket', { hotreload_target: 'app-config', hotreload_outcome: 'success', le: '3' }), 2);
  assert.equal(value(samples, 'hotreload_stage_duration_seconds_count', { hotreload_target: 'app-config', hotreload_stage: 'switch', hotreload_outcome: 'success' }), 2);
  assert.ok(samples.some((s) => s.name === 'hotreload_eventloop_blocked_seconds_bucket'));
  assert.equal(value(samples, 'hotreload_tls_not_after_timestamp_seconds', { hotreload_target: 'tls' }), Date.UTC(2027, 0, 1) / 1000);
});

test('default aggregation: OTLP histograms carry the catalogue\'s explicit buckets; http/protobuf for both signals', async (t) => {
  const receiver = await startOtlpReceiver(t);
  const json = await startApp(t, 'app.mjs', { ...BASE_ENV, OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
  assert.equal(json.info.metricsUrl, null, 'no Prometheus endpoint when only otlp is listed');
  await post(`${json.base}/reload?target=app-config&kind=clean`);
  await fetch(`${json.base}/flush`, { method: 'POST' });
  const pushed = await eventually(() => reloadscopeMetrics(receiver.requests).get('hotreload.duration'), 'the duration histogram');
  const buckets = (pushed.histogram?.dataPoints[0] as { explicitBounds?: number[] } | undefined)?.explicitBounds;
  assert.deepEqual(buckets, [...METRIC_LIST.find((d) => d.name === 'hotreload.duration')!.buckets!]);
  json.child.kill('SIGKILL');

  const proto = await startOtlpReceiver(t);
  const app = await startApp(t, 'app.mjs', {
    ...BASE_ENV,
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_METRICS_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: proto.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  });
  await post(`${app.base}/reload?target=app-config&kind=clean`);
  await fetch(`${app.base}/flush`, { method: 'POST' });
  const paths = await eventually(() => {
    const seen = new Set(proto.requests.map((r) => r.path));
    return seen.has('/v1/metrics') && seen.has('/v1/traces') ? seen : undefined;
  }, 'a traces and a metrics export');
  assert.deepEqual([...paths].sort(), ['/v1/metrics', '/v1/traces']);
  for (const r of proto.requests) {
    assert.equal(r.contentType, 'application/x-protobuf', r.path);
    // The protobuf encoding of the reload's own names, not JSON.
    assert.ok(Buffer.isBuffer(r.body) && r.body.includes(Buffer.from(r.path === '/v1/metrics' ? 'hotreload.duration' : 'hotreload.switch')));
    assert.ok(!(r.body as Buffer).subarray(0, 1).equals(Buffer.from('{')));
  }
});

test('metrics Collector down: the app keeps serving, says so once, never prints the endpoint\'s userinfo', async (t) => {
  const port = await freePort(); // nothing listens here
  const app = await startApp(t, 'app.mjs', {
    ...BASE_ENV,
    OTEL_METRICS_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://metrics-user:s3cr3t@127.0.0.1:${port}/v1/metrics`,
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '1000',
  });
  for (let i = 0; i < 2; i++) {
    await post(`${app.base}/reload?target=app-config&kind=clean`);
    await fetch(`${app.base}/flush`, { method: 'POST' });
  }
  await eventually(() => (/cannot export metrics/.test(app.stderr()) ? true : undefined), 'the export diagnostic');
  const said = app.stderr().match(/\[reloadscope\] cannot export metrics to http:\/\/\*\*\*@127\.0\.0\.1:\d+\/v1\/metrics \(.*ECONNREFUSED.*\)/g) ?? [];
  assert.equal(said.length, 1, `reported exactly once; stderr:\n${app.stderr()}`);
  assert.ok(!app.stderr().includes('s3cr3t'), app.stderr());
  assert.equal((await fetch(`${app.base}/health`)).status, 200);
  assert.equal((await post(`${app.base}/reload?target=app-config&kind=clean`)).outcome, 'success');
});
