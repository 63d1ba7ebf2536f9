/**
 * A long-lived service sees thousands of versions. Scraped after each one, its endpoint must still
 * name the active version (not `otel_metric_overflow`: the SDK caps an instrument at 2 000 attribute
 * sets it never frees) and must not grow with the versions it has seen. Its own process: register
 * starts once per process, here in the test's (node --test runs each file in a child process).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha256Hex } from '@reloadscope/core';
import { startReloadscope } from '../src/api.ts';
import { parsePrometheus } from './helpers.ts';

test('after 2 100 versions, each scraped while active, the endpoint names the active version and is no bigger than after 10', async (t) => {
  const rs = startReloadscope({
    env: {
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: '0',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_SERVICE_NAME: 'many-versions',
      RELOADSCOPE_RUNTIME_METRICS: 'false',
      RELOADSCOPE_NODE_PROBES: 'false',
    },
    handleSignals: false,
  });
  t.after(() => rs.shutdown());
  const url = await rs.metricsUrl();
  assert.ok(url, 'the endpoint listens');

  let active = 0;
  const reload = (n: number) =>
    rs.instrumentation.reload(
      { target: 'app-config' },
      {
        load: () => `version ${n}`,
        verify: (text) => {
          // Every third version is refused once identified: the newest candidate moves too.
          if (n % 3 === 0) throw new Error(`refused ${text.length}`);
        },
        switch: () => {
          const previous = active;
          active = n;
          return previous;
        },
        identify: (text) => ({ hash: sha256Hex(text), version: String(n) }),
      },
    );

  let sizeAfter10 = 0;
  let linesAfter10 = 0;
  let text = '';
  const VERSIONS = 2100;
  for (let n = 1; n <= VERSIONS; n++) {
    await reload(n);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    text = await res.text();
    if (n === 10) {
      sizeAfter10 = text.length;
      linesAfter10 = text.split('\n').length;
    }
  }
  const samples = parsePrometheus(text);
  const info = samples.filter((s) => s.name === 'hotreload_config_info');
  assert.deepEqual(
    info.map((s) => s.labels.hotreload_config_version),
    [String(VERSIONS - 1)],
    'one config_info, the active version (the last, 2100, was refused)',
  );
  assert.deepEqual(
    samples.filter((s) => s.name === 'hotreload_candidate_info').map((s) => [s.labels.hotreload_config_hash, s.labels.error_type]),
    [[sha256Hex(`version ${VERSIONS}`), 'Error']],
  );
  assert.equal(samples.filter((s) => 'otel_metric_overflow' in s.labels).length, 0, 'nothing in the overflow series');
  // The same series as after 10 versions; only digits of counts, timestamps and durations differ.
  assert.equal(text.split('\n').length, linesAfter10, 'as many exposition lines as after 10 versions');
  assert.ok(Math.abs(text.length - sizeAfter10) < 1024, `${text.length} bytes after ${VERSIONS} versions, ${sizeAfter10} after 10`);
});
