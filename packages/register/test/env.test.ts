import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readEnv, tracesUrlFrom } from '../src/env.ts';

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
  assert.deepEqual(s.problems, []);
});

test('OTLP endpoint: the generic one gets /v1/traces, the signal-specific one is used as is', () => {
  assert.equal(tracesUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }), 'http://collector:4318/v1/traces');
  assert.equal(tracesUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/base' }), 'http://collector:4318/base/v1/traces');
  assert.equal(
    tracesUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/custom' }),
    'http://b:9999/custom',
  );
});

test('exporter lists: none, console, several, unknown', () => {
  assert.deepEqual(readEnv({ OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' }).traces, []);
  assert.deepEqual(readEnv({ OTEL_METRICS_EXPORTER: 'none' }).metrics, []);
  assert.deepEqual(readEnv({ OTEL_TRACES_EXPORTER: 'otlp, console' }).traces, ['otlp', 'console']);
  const s = readEnv({ OTEL_TRACES_EXPORTER: 'zipkin,console', OTEL_METRICS_EXPORTER: 'otlp' });
  assert.deepEqual(s.traces, ['console']);
  assert.deepEqual(s.metrics, []);
  assert.equal(s.problems.length, 2);
  assert.match(s.problems[0]!, /OTEL_TRACES_EXPORTER: exporter "zipkin" is not supported/);
  assert.match(s.problems[1]!, /OTEL_METRICS_EXPORTER: exporter "otlp" is not supported/);
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
  assert.equal(s.retainedGraceMs, 250);
  assert.deepEqual(s.problems, []);
});
