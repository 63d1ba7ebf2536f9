import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { context, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import fc from 'fast-check';
import {
  DEFAULT_OTLP_TIMEOUT_MS,
  DEFAULT_SAMPLER,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  HISTOGRAM_AGGREGATIONS,
  OTLP_PROTOCOLS,
  otlpUrlFrom,
  readEnv,
  SAMPLERS,
  TEMPORALITY_PREFERENCES,
  tracesUrlFrom,
} from '../src/env.ts';
import { credentialsIn } from '../src/credentials.ts';
import { buildResource } from '../src/resource.ts';
import { parseKeyValuePairs } from '../src/key-value-pairs.ts';
import { buildSampler } from '../src/sampler.ts';

test('defaults: OTLP traces to localhost:4318, Prometheus on 9464, probes on', () => {
  const s = readEnv({});
  assert.equal(s.disabled, false);
  assert.deepEqual(s.traces, ['otlp']);
  assert.equal(s.tracesUrl, 'http://localhost:4318/v1/traces');
  assert.deepEqual(s.metrics, ['prometheus']);
  assert.equal(s.prometheusHost, 'localhost');
  assert.equal(s.prometheusPort, 9464);
  assert.equal(s.probes, true);
  assert.equal(s.runtimeMetrics, true);
  assert.equal(s.stampGeneration, true);
  assert.equal(s.retainedGraceMs, undefined);
  assert.equal(s.tracesProtocol, 'http/json');
  assert.deepEqual(s.otlpMetrics, {
    url: 'http://localhost:4318/v1/metrics',
    urlVariable: undefined,
    protocol: 'http/json',
    timeoutMs: DEFAULT_OTLP_TIMEOUT_MS,
    temporality: 'cumulative',
    histogramAggregation: 'explicit_bucket_histogram',
  });
  assert.equal(s.metricExportIntervalMs, 60_000);
  assert.equal(s.metricExportTimeoutMs, 30_000);
  assert.deepEqual(s.problems, []);
});

test('OTLP endpoint: the generic one gets /v1/<signal>, the signal-specific one is used as is', () => {
  assert.equal(otlpUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, 'traces'), 'http://collector:4318/v1/traces');
  assert.equal(otlpUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/base' }, 'traces'), 'http://collector:4318/base/v1/traces');
  assert.equal(
    otlpUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/custom' }, 'traces'),
    'http://b:9999/custom',
  );
  assert.equal(otlpUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, 'metrics'), 'http://collector:4318/v1/metrics');
  assert.equal(
    otlpUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://b/m' }, 'metrics'),
    'https://b/m',
  );
  const s = readEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'ftp://b/m' });
  assert.equal(s.otlpMetrics.url, 'http://localhost:4318/v1/metrics', 'a bad metrics endpoint falls back to the default');
  assert.equal(s.tracesUrl, 'http://a:4318/v1/traces');
  assert.deepEqual(s.problems, ['OTLP metrics endpoint "ftp://b/m" is not an http(s) URL; using http://localhost:4318/v1/metrics']);
});

test('OTLP metrics push: OTEL_METRICS_EXPORTER=otlp and the standard OTLP metrics variables', () => {
  const s = readEnv({
    OTEL_METRICS_EXPORTER: 'prometheus, OTLP',
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://collector:4318/v1/metrics',
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'Base2_Exponential_Bucket_Histogram',
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'Delta',
    OTEL_EXPORTER_OTLP_TIMEOUT: '4000',
    OTEL_METRIC_EXPORT_INTERVAL: '5000',
    OTEL_METRIC_EXPORT_TIMEOUT: '2000',
  });
  assert.deepEqual(s.metrics, ['prometheus', 'otlp'], 'pull and push at once');
  assert.deepEqual(s.otlpMetrics, {
    url: 'http://collector:4318/v1/metrics',
    urlVariable: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
    protocol: 'http/protobuf',
    timeoutMs: 4000,
    temporality: 'delta',
    histogramAggregation: 'base2_exponential_bucket_histogram',
  });
  assert.equal(s.metricExportIntervalMs, 5000);
  assert.equal(s.metricExportTimeoutMs, 2000);
  assert.equal(s.tracesProtocol, 'http/json', 'the metrics protocol is not the traces one');
  assert.deepEqual(s.problems, []);
  assert.equal(readEnv({ OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'lowmemory' }).otlpMetrics.temporality, 'lowmemory');
  assert.equal(readEnv({ OTEL_EXPORTER_OTLP_TIMEOUT: '3000', OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '700' }).otlpMetrics.timeoutMs, 700);
  assert.equal(readEnv({ OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '700' }).otlpTimeoutMs, DEFAULT_OTLP_TIMEOUT_MS, 'the metrics timeout is not the traces one');
});

test('OTLP protocols: http/json and http/protobuf per signal, the specific variable wins; grpc or unknown is said and falls back', () => {
  const both = readEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
  assert.equal(both.tracesProtocol, 'http/protobuf');
  assert.equal(both.otlpMetrics.protocol, 'http/protobuf');
  assert.deepEqual(both.problems, []);
  const mixed = readEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'HTTP/JSON' });
  assert.equal(mixed.tracesProtocol, 'http/json');
  assert.equal(mixed.otlpMetrics.protocol, 'http/protobuf');
  const grpc = readEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf' });
  assert.equal(grpc.tracesProtocol, 'http/json');
  assert.equal(grpc.otlpMetrics.protocol, 'http/protobuf');
  assert.deepEqual(grpc.problems, [
    'OTEL_EXPORTER_OTLP_PROTOCOL="grpc": @reloadscope/register bundles OTLP over http/json and http/protobuf only; using http/json',
  ]);
  // A bad signal-specific value falls back to the generic one, as the timeouts do.
  const bad = readEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'thrift' });
  assert.equal(bad.tracesProtocol, 'http/protobuf');
  assert.deepEqual(bad.problems, [
    'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="thrift": @reloadscope/register bundles OTLP over http/json and http/protobuf only; using http/protobuf',
  ]);
});

test('OTLP metrics: bad aggregation, temporality, interval or timeout are said and fall back; a timeout above the interval is clamped', () => {
  const s = readEnv({
    OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'exponential',
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'sometimes',
    OTEL_METRIC_EXPORT_TIMEOUT: '0',
  });
  assert.equal(s.otlpMetrics.histogramAggregation, 'explicit_bucket_histogram');
  assert.equal(s.otlpMetrics.temporality, 'cumulative');
  assert.equal(s.metricExportTimeoutMs, 30_000);
  assert.deepEqual(s.problems, [
    'OTEL_METRIC_EXPORT_TIMEOUT="0" is not an integer in [1, 86400000]; using 30000',
    'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE="sometimes" is not one of cumulative, delta, lowmemory; using cumulative',
    'OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION="exponential" is not one of explicit_bucket_histogram, ' +
      'base2_exponential_bucket_histogram; using explicit_bucket_histogram',
  ]);
  const clamped = readEnv({ OTEL_METRIC_EXPORT_INTERVAL: '1000' });
  assert.equal(clamped.metricExportTimeoutMs, 1000, 'the default timeout follows a shorter interval silently');
  assert.deepEqual(clamped.problems, []);
  const said = readEnv({ OTEL_METRIC_EXPORT_INTERVAL: '1000', OTEL_METRIC_EXPORT_TIMEOUT: '5000' });
  assert.equal(said.metricExportTimeoutMs, 1000);
  assert.deepEqual(said.problems, ['OTEL_METRIC_EXPORT_TIMEOUT=5000 exceeds OTEL_METRIC_EXPORT_INTERVAL=1000; using 1000']);
});

test('OTLP endpoint: the signal path goes into the path of a generic endpoint with a query, not after the query', () => {
  assert.equal(
    tracesUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://user:pw@collector:4318/base/?token=abc' }),
    'https://user:pw@collector:4318/base/v1/traces?token=abc',
  );
  assert.equal(tracesUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318?token=abc' }), 'http://collector:4318/v1/traces?token=abc');
});

test('an endpoint refused as a URL is named without its userinfo or query values', () => {
  const s = readEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://user:pw-secret@collector/v1/traces?token=tok-secret' });
  assert.equal(s.tracesUrl, 'http://localhost:4318/v1/traces');
  assert.equal(s.tracesUrlVariable, undefined);
  assert.deepEqual(s.problems, ['OTLP traces endpoint "ftp://***@collector/v1/traces?token=***" is not an http(s) URL; using http://localhost:4318/v1/traces']);
});

test('credentialsIn: userinfo and query values of every endpoint, every header value, the cluster token', () => {
  const found = credentialsIn({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://user:p%40ss@collector:4318?token=tok1',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'user2:pw2@collector:4318/v1/traces?key=k2',
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m:mpw@h',
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://l:lpw@h',
    OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abcdefgh123,x-broken=%zzvalue,forgotten-key',
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-api-key=k3',
    OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'a=m-h',
    OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'a=l-h',
    RELOADSCOPE_CLUSTER_HTTP_TOKEN: 'cluster-token',
    OTEL_SERVICE_NAME: 'not-a-secret',
  });
  for (const secret of ['user', 'p%40ss', 'p@ss', 'tok1', 'user2:pw2', 'pw2', 'k2', 'mpw', 'lpw', 'Bearer%20abcdefgh123', 'Bearer abcdefgh123', 'abcdefgh123', '%zzvalue', 'forgotten-key', 'k3', 'm-h', 'l-h', 'cluster-token']) {
    assert.ok(found.includes(secret), `${secret} in ${JSON.stringify(found)}`);
  }
  assert.ok(found.includes(Buffer.from('user:p@ss').toString('base64')), 'the Basic credentials of the userinfo');
  assert.ok(!found.includes('not-a-secret'));
  assert.deepEqual(credentialsIn({}), []);
});

test('exporter lists: none, console, several, unknown', () => {
  assert.deepEqual(readEnv({ OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' }).traces, []);
  assert.deepEqual(readEnv({ OTEL_METRICS_EXPORTER: 'none' }).metrics, []);
  assert.deepEqual(readEnv({ OTEL_TRACES_EXPORTER: 'otlp, console' }).traces, ['otlp', 'console']);
  const s = readEnv({ OTEL_TRACES_EXPORTER: 'zipkin,console', OTEL_METRICS_EXPORTER: 'otlp,zipkin' });
  assert.deepEqual(s.traces, ['console']);
  assert.deepEqual(s.metrics, ['otlp']);
  assert.equal(s.problems.length, 2);
  assert.match(s.problems[0]!, /OTEL_TRACES_EXPORTER: exporter "zipkin" is not supported/);
  assert.match(s.problems[1]!, /OTEL_METRICS_EXPORTER: exporter "zipkin" is not supported .*\(supported: prometheus, otlp, console, none\)/);
});

test('bad values become a clear problem and a safe default, never a throw', () => {
  const s = readEnv({
    OTEL_SDK_DISABLED: 'yes',
    OTEL_EXPORTER_PROMETHEUS_PORT: '99999',
    OTEL_LOG_LEVEL: 'loud',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url',
    RELOADSCOPE_RETAINED_GRACE_MS: '-5',
  });
  assert.equal(s.disabled, false);
  assert.equal(s.prometheusPort, 9464);
  assert.equal(s.logLevel, undefined);
  assert.equal(s.tracesUrl, 'http://localhost:4318/v1/traces');
  assert.equal(s.retainedGraceMs, 10_000);
  assert.equal(s.problems.length, 5);
  assert.ok(s.problems.some((p) => p.startsWith('OTEL_SDK_DISABLED="yes" is not true or false')));
  assert.ok(s.problems.some((p) => p.startsWith('OTEL_EXPORTER_PROMETHEUS_PORT="99999" is not an integer in [0, 65535]')));
});

test('switches: disabled SDK, port 0, log level, reloadscope toggles', () => {
  const s = readEnv({
    OTEL_SDK_DISABLED: 'TRUE',
    OTEL_EXPORTER_PROMETHEUS_PORT: '0',
    OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0',
    OTEL_LOG_LEVEL: 'DEBUG',
    OTEL_SERVICE_NAME: 'billing',
    RELOADSCOPE_NODE_PROBES: 'false',
    RELOADSCOPE_RUNTIME_METRICS: 'false',
    RELOADSCOPE_STAMP_GENERATION: 'false',
    RELOADSCOPE_RETAINED_GRACE_MS: '250',
  });
  assert.equal(s.disabled, true);
  assert.equal(s.prometheusPort, 0);
  assert.equal(s.prometheusHost, '0.0.0.0');
  assert.equal(s.logLevel, 'debug');
  assert.equal(s.serviceName, 'billing');
  assert.equal(s.probes, false);
  assert.equal(s.runtimeMetrics, false);
  assert.equal(s.stampGeneration, false);
  assert.equal(readEnv({ RELOADSCOPE_STAMP_GENERATION: 'Per-Target' }).stampGeneration, 'per-target');
  const bad = readEnv({ RELOADSCOPE_STAMP_GENERATION: 'all' });
  assert.equal(bad.stampGeneration, true);
  assert.deepEqual(bad.problems, ['RELOADSCOPE_STAMP_GENERATION="all" is not true, false or per-target; using true']);
  assert.equal(s.retainedGraceMs, 250);
  assert.deepEqual(s.problems, []);
});

test('OTEL_TRACES_SAMPLER: every spec sampler the SDK has; ratio from OTEL_TRACES_SAMPLER_ARG', () => {
  assert.deepEqual(readEnv({}).sampler, { name: 'parentbased_always_on', ratio: 1 });
  for (const name of SAMPLERS) {
    const s = readEnv({ OTEL_TRACES_SAMPLER: name.toUpperCase(), OTEL_TRACES_SAMPLER_ARG: '0.25' });
    assert.deepEqual(s.sampler, { name, ratio: name.endsWith('traceidratio') ? 0.25 : 1 });
    assert.deepEqual(s.problems, [], name);
  }
  assert.deepEqual(readEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }).sampler.ratio, 0);
  assert.deepEqual(readEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1' }).sampler.ratio, 1);
});

test('OTEL_TRACES_SAMPLER: a missing or bad ratio is 1.0, a remote or unknown sampler the default, each said once', () => {
  for (const arg of [undefined, '', 'abc', '-0.1', '1.5', 'NaN', 'Infinity']) {
    const s = readEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', ...(arg === undefined ? {} : { OTEL_TRACES_SAMPLER_ARG: arg }) });
    assert.deepEqual(s.sampler, { name: 'parentbased_traceidratio', ratio: 1 }, String(arg));
    assert.equal(s.problems.length, 1);
    assert.match(s.problems[0]!, /OTEL_TRACES_SAMPLER_ARG.*using (ratio )?1\.0/);
  }
  for (const name of ['jaeger_remote', 'parentbased_jaeger_remote', 'xray']) {
    const s = readEnv({ OTEL_TRACES_SAMPLER: name });
    assert.deepEqual(s.sampler, DEFAULT_SAMPLER);
    assert.deepEqual(s.problems, [`OTEL_TRACES_SAMPLER="${name}" needs a remote sampling service and is not bundled; using parentbased_always_on`]);
  }
  const unknown = readEnv({ OTEL_TRACES_SAMPLER: 'sometimes' });
  assert.deepEqual(unknown.sampler, DEFAULT_SAMPLER);
  assert.match(unknown.problems[0]!, /^OTEL_TRACES_SAMPLER="sometimes" is not a known sampler; using parentbased_always_on$/);
  // The argument of a sampler that takes none is ignored, as the spec says.
  assert.deepEqual(readEnv({ OTEL_TRACES_SAMPLER: 'always_on', OTEL_TRACES_SAMPLER_ARG: 'x' }).problems, []);
});

test('buildSampler: the SDK samplers decide as the spec says', () => {
  const ctx = context.active();
  const traceId = 'f'.repeat(32); // the highest trace id: kept by no ratio below 1
  const decide = (name: (typeof SAMPLERS)[number], ratio: number, parent?: boolean) => {
    const c =
      parent === undefined
        ? ctx
        : trace.setSpanContext(ctx, { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: parent ? TraceFlags.SAMPLED : TraceFlags.NONE });
    return buildSampler({ name, ratio }).shouldSample(c, traceId, 'span', SpanKind.INTERNAL, {}, []).decision;
  };
  const { RECORD_AND_SAMPLED: ON, NOT_RECORD: OFF } = SamplingDecision;
  assert.equal(decide('always_on', 1), ON);
  assert.equal(decide('always_off', 1), OFF);
  assert.equal(decide('traceidratio', 0), OFF);
  assert.equal(decide('traceidratio', 1), ON);
  assert.equal(decide('parentbased_always_on', 1), ON);
  assert.equal(decide('parentbased_always_on', 1, false), OFF, 'follows an unsampled parent');
  assert.equal(decide('parentbased_always_off', 1), OFF);
  assert.equal(decide('parentbased_always_off', 1, true), ON, 'follows a sampled parent');
  assert.equal(decide('parentbased_traceidratio', 0), OFF);
  assert.equal(decide('parentbased_traceidratio', 0, true), ON);
});

test('OTEL_RESOURCE_ATTRIBUTES: a malformed pair is skipped alone; the message names positions and keys, never values', () => {
  const raw = 'deployment.environment.name=prod, broken-s3cr3t ,=orphan-s3cr3t,team=a%ZZs3cr3t,bad key=x,region=eu%2Dwest,,note=a%3Db%2Cc,ctl=%0As3cr3t,';
  const s = readEnv({ OTEL_RESOURCE_ATTRIBUTES: raw });
  assert.deepEqual(s.resourceAttributes, { 'deployment.environment.name': 'prod', region: 'eu-west', note: 'a=b,c' });
  assert.equal(s.problems.length, 1, 'said once, in one line');
  const line = s.problems[0]!;
  assert.ok(!line.includes('s3cr3t') && !line.includes('orphan'), line);
  for (const part of ["pair 2: no '='", 'pair 3: empty key', 'pair 4, key "team": invalid characters or percent-encoding in the value', 'pair 5: invalid characters', 'pair 9, key "ctl"']) {
    assert.ok(line.includes(part), `${part} in: ${line}`);
  }
  assert.match(line, /skipped 5 malformed pairs .* the other 3 pairs are used/);
  assert.deepEqual(readEnv({ OTEL_RESOURCE_ATTRIBUTES: 'a=1,b=2' }).problems, []);
  assert.deepEqual(readEnv({ OTEL_RESOURCE_ATTRIBUTES: 'a=1,b=x=y' }).resourceAttributes, { a: '1', b: 'x=y' }, 'only the first = splits');
});

test('parseKeyValuePairs: well-formed pairs round-trip through percent-encoding, around any malformed ones', () => {
  const key = fc.stringMatching(/^[a-z][a-z0-9._-]{0,20}$/);
  const pair = fc.tuple(key, fc.string({ unit: 'grapheme', maxLength: 20 }));
  const bad = fc.constantFrom('novalue', '=v', 'k=%', 'k=%E0%A4%A', 'k=\u0001', 'k y=1', 'k=%7F');
  fc.assert(
    fc.property(fc.uniqueArray(pair, { selector: ([k]) => k, maxLength: 6 }), fc.array(bad, { maxLength: 3 }), fc.nat(), (pairs, bads, at) => {
      // Control characters are refused by design; keep the generated values printable.
      const good = pairs.map(([k, v]) => [k, [...v].filter((c) => c > '\u001f' && c !== '\u007f').join('')] as const);
      const entries = good.map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
      entries.splice(at % (entries.length + 1), 0, ...bads);
      const parsed = parseKeyValuePairs(entries.join(','));
      assert.deepEqual(parsed.attributes, Object.fromEntries(good));
      assert.equal(parsed.skipped.length, bads.length);
    }),
    { numRuns: 300, seed: 11 },
  );
});

test('OTEL_EXPORTER_OTLP_HEADERS: a malformed pair is said by position and key, the credential never', () => {
  const s = readEnv({ OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=acme,Authorization=Bearer%ZZs3cr3t', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'apikey-s3cr3t' });
  assert.deepEqual(s.problems, [
    'OTEL_EXPORTER_OTLP_HEADERS: skipped 1 malformed pair (pair 2, key "Authorization": invalid characters or percent-encoding in the value); ' +
      "the other 1 pair is used. Expected key=value, with ',' '=' and non-ASCII percent-encoded.",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS: skipped 1 malformed pair (pair 1: no '='); the other 0 pairs are used. Expected key=value, with ',' '=' and non-ASCII percent-encoded.",
  ]);
  assert.deepEqual(readEnv({ OTEL_EXPORTER_OTLP_HEADERS: 'api-key=abc%3D%3D,x-b=1' }).problems, []);
  const metrics = readEnv({ OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-tenant=acme,token-s3cr3t' }).problems;
  assert.equal(metrics.length, 1);
  assert.match(metrics[0]!, /^OTEL_EXPORTER_OTLP_METRICS_HEADERS: skipped 1 malformed pair \(pair 2: no '='\)/);
  assert.ok(!metrics[0]!.includes('s3cr3t'));
});

test('an OTLP endpoint refused for its scheme is said without its userinfo (credentials)', () => {
  const s = readEnv({
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://user:s3cr3t@collector:4318/v1/traces',
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'ftp://token-s3cr3t@collector:4318/v1/metrics',
  });
  assert.equal(s.problems.length, 2);
  for (const p of s.problems) {
    assert.ok(!p.includes('s3cr3t'), p);
    assert.match(p, /"ftp:\/\/\*\*\*@collector:4318\/v1\/(traces|metrics)" is not an http\(s\) URL/);
  }
});

test('service.instance.id: one UUID per process unless OTEL_RESOURCE_ATTRIBUTES names the instance', () => {
  // Pushed metrics are told apart by it: the Collector makes it the `instance` label, so two replicas
  // of one service without it would write the same series.
  const generated = buildResource({}, 'svc').attributes['service.instance.id'];
  assert.match(String(generated), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(buildResource({}, 'svc').attributes['service.instance.id'], generated, 'the same for every resource of the process');
  assert.equal(buildResource({ 'service.instance.id': 'pod-7' }, 'svc').attributes['service.instance.id'], 'pod-7');
});

test('OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES; the code option over both', () => {
  const attrs = readEnv({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,team=a' }).resourceAttributes;
  assert.equal(buildResource(attrs, undefined).attributes['service.name'], 'from-attrs');
  assert.equal(buildResource(attrs, 'from-env').attributes['service.name'], 'from-env');
  assert.equal(buildResource(attrs, 'from-env').attributes.team, 'a');
});

test('numbers: NaN, negative, fractional, hex or out-of-range values fall back to the default, naming the variable', () => {
  const vars = {
    OTEL_BSP_SCHEDULE_DELAY: 'NaN',
    OTEL_BSP_EXPORT_TIMEOUT: '-1',
    OTEL_BSP_MAX_QUEUE_SIZE: '0x10',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1e3',
    OTEL_EXPORTER_OTLP_TIMEOUT: '2.5',
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: 'soon',
    OTEL_EXPORTER_PROMETHEUS_PORT: 'abc',
    OTEL_METRIC_EXPORT_INTERVAL: '-60000',
    RELOADSCOPE_SHUTDOWN_TIMEOUT_MS: '99999999',
  };
  const s = readEnv(vars);
  assert.deepEqual(s.batch, { scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 });
  assert.equal(s.otlpTimeoutMs, DEFAULT_OTLP_TIMEOUT_MS);
  assert.equal(s.prometheusPort, 9464);
  assert.equal(s.metricExportIntervalMs, 60_000);
  assert.equal(s.shutdownTimeoutMs, DEFAULT_SHUTDOWN_TIMEOUT_MS);
  assert.equal(s.problems.length, Object.keys(vars).length);
  for (const [k, v] of Object.entries(vars)) assert.ok(s.problems.some((p) => p.startsWith(`${k}=${JSON.stringify(v)} is not an integer in [`)), k);
});

test('numbers: good values are used; the traces timeout wins over the generic one; a batch larger than the queue is clamped', () => {
  const s = readEnv({
    OTEL_BSP_SCHEDULE_DELAY: '250',
    OTEL_BSP_EXPORT_TIMEOUT: '4000',
    OTEL_BSP_MAX_QUEUE_SIZE: '100',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '200',
    OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
    RELOADSCOPE_SHUTDOWN_TIMEOUT_MS: '0',
  });
  assert.deepEqual(s.batch, { scheduledDelayMillis: 250, exportTimeoutMillis: 4000, maxQueueSize: 100, maxExportBatchSize: 100 });
  assert.deepEqual(s.problems, ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE=200 exceeds OTEL_BSP_MAX_QUEUE_SIZE=100; using 100']);
  assert.equal(s.otlpTimeoutMs, 3000);
  assert.equal(s.shutdownTimeoutMs, 0);
  assert.equal(readEnv({ OTEL_EXPORTER_OTLP_TIMEOUT: '3000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '700' }).otlpTimeoutMs, 700);
  assert.equal(readEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '100' }).batch.maxExportBatchSize, 100, 'the default batch follows a smaller queue silently');
});

test('what register does not implement is said, not silently dropped', () => {
  const s = readEnv({ OTEL_PROPAGATORS: 'b3' });
  assert.deepEqual(s.problems, ['OTEL_PROPAGATORS="b3" is not read by @reloadscope/register; it always propagates tracecontext,baggage']);
  assert.deepEqual(readEnv({ OTEL_PROPAGATORS: 'baggage, tracecontext' }).problems, []);
  assert.match(readEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' }).problems[0]!, /is not an http\(s\) URL/);
  assert.match(readEnv({ OTEL_EXPORTER_PROMETHEUS_HOST: 'a b' }).problems[0]!, /OTEL_EXPORTER_PROMETHEUS_HOST="a b" is not a host name/);
});

const VARIABLES = [
  'OTEL_SDK_DISABLED', 'OTEL_SERVICE_NAME', 'OTEL_RESOURCE_ATTRIBUTES', 'OTEL_TRACES_EXPORTER', 'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_BSP_EXPORT_TIMEOUT', 'OTEL_BSP_MAX_QUEUE_SIZE', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'OTEL_METRICS_EXPORTER',
  'OTEL_EXPORTER_PROMETHEUS_HOST', 'OTEL_EXPORTER_PROMETHEUS_PORT', 'OTEL_METRIC_EXPORT_INTERVAL', 'OTEL_LOG_LEVEL', 'OTEL_PROPAGATORS',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', 'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
  'OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION', 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', 'OTEL_METRIC_EXPORT_TIMEOUT',
  'RELOADSCOPE_NODE_PROBES', 'RELOADSCOPE_RUNTIME_METRICS', 'RELOADSCOPE_STAMP_GENERATION', 'RELOADSCOPE_RETAINED_GRACE_MS',
  'RELOADSCOPE_SHUTDOWN_TIMEOUT_MS',
];

test('fuzz: any strings in any variable never throw and only ever yield known, in-range settings', () => {
  const anyValue = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', ' ', '0', '-1', 'NaN', '1e9', 'true', '%', '=', ','));
  const env = fc.dictionary(fc.constantFrom(...VARIABLES), anyValue);
  fc.assert(
    fc.property(env, (e) => {
      const s = readEnv(e);
      assert.ok(s.traces.every((t) => t === 'otlp' || t === 'console'));
      assert.ok(s.metrics.every((m) => m === 'prometheus' || m === 'otlp' || m === 'console'));
      assert.ok(OTLP_PROTOCOLS.includes(s.tracesProtocol) && OTLP_PROTOCOLS.includes(s.otlpMetrics.protocol));
      assert.ok(TEMPORALITY_PREFERENCES.includes(s.otlpMetrics.temporality));
      assert.ok(HISTOGRAM_AGGREGATIONS.includes(s.otlpMetrics.histogramAggregation));
      assert.ok(/^https?:$/.test(new URL(s.otlpMetrics.url).protocol));
      for (const n of [s.otlpMetrics.timeoutMs, s.metricExportIntervalMs, s.metricExportTimeoutMs]) assert.ok(Number.isInteger(n) && n >= 1);
      assert.ok(s.metricExportTimeoutMs <= s.metricExportIntervalMs, 'the periodic reader throws on a timeout above the interval');
      assert.ok((SAMPLERS as readonly string[]).includes(s.sampler.name));
      assert.ok(s.sampler.ratio >= 0 && s.sampler.ratio <= 1);
      assert.ok(Number.isInteger(s.prometheusPort) && s.prometheusPort >= 0 && s.prometheusPort <= 65535);
      assert.ok(/^https?:$/.test(new URL(s.tracesUrl).protocol));
      for (const n of [s.otlpTimeoutMs, s.batch.exportTimeoutMillis, s.batch.maxQueueSize, s.batch.maxExportBatchSize]) assert.ok(Number.isInteger(n) && n >= 1);
      assert.ok(s.batch.maxExportBatchSize <= s.batch.maxQueueSize);
      assert.ok(Number.isInteger(s.shutdownTimeoutMs) && s.shutdownTimeoutMs >= 0);
      for (const [k, v] of Object.entries(s.resourceAttributes)) assert.ok(typeof k === 'string' && k !== '' && typeof v === 'string');
      assert.ok(s.problems.every((p) => typeof p === 'string' && !p.includes('\n')));
    }),
    { numRuns: 200, seed: 12 },
  );
});

test('README: every OTEL_* and RELOADSCOPE_* variable the source reads is documented', () => {
  const src = fileURLToPath(new URL('../src/', import.meta.url));
  const names = new Set<string>();
  for (const f of readdirSync(src)) for (const m of readFileSync(join(src, f), 'utf8').matchAll(/\b(?:OTEL|RELOADSCOPE)_[A-Z_]+[A-Z]\b/g)) names.add(m[0]);
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const missing = [...names].filter((n) => !readme.includes(`\`${n}\``));
  assert.deepEqual(missing, []);
  for (const v of VARIABLES) assert.ok(names.has(v), `${v} is read by the source`);
});

test('parseKeyValuePairs: a `__proto__` key is an attribute like any other, not the prototype', () => {
  const { attributes, skipped } = parseKeyValuePairs('__proto__=x,constructor=y,service.name=svc');
  assert.deepEqual(skipped, []);
  assert.deepEqual(Object.keys(attributes).sort(), ['__proto__', 'constructor', 'service.name']);
  assert.equal(Object.getOwnPropertyDescriptor(attributes, '__proto__')?.value, 'x');
  assert.equal(Object.getPrototypeOf(attributes), Object.prototype);
});
