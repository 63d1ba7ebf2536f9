import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { freePort, post, startApp, startOtlpReceiver } from './helpers.ts';

test('OTEL_SDK_DISABLED=true: reloads still work, nothing is exported or served', async (t) => {
  const receiver = await startOtlpReceiver(t);
  const port = await freePort();
  const app = await startApp(t, 'app.mjs', {
    OTEL_SDK_DISABLED: 'true',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
  });
  assert.equal(app.info.traces, 'disabled');
  assert.equal(app.info.metrics, 'disabled');
  assert.equal(app.info.metricsUrl, null);
  assert.equal((await post(`${app.base}/reload?target=app-config&kind=clean`)).outcome, 'success');
  await fetch(`${app.base}/work`);
  await fetch(`${app.base}/flush`, { method: 'POST' });
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'no Prometheus endpoint listens');
  app.child.kill('SIGTERM');
  await app.exited;
  assert.equal(receiver.requests.length, 0, 'no OTLP export');
  assert.equal(app.stderr(), '', 'nothing to report');
});

test('Prometheus port already taken: the app still serves and says so once on stderr', async (t) => {
  const squatter = createServer((_req, res) => res.end('not the app'));
  squatter.listen(0, '127.0.0.1');
  await once(squatter, 'listening');
  t.after(() => new Promise<void>((r) => squatter.close(() => r())));
  const port = (squatter.address() as AddressInfo).port;
  const app = await startApp(t, 'app.mjs', {
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    OTEL_TRACES_EXPORTER: 'none',
  });
  assert.equal(app.info.metricsUrl, null);
  for (let i = 0; i < 3; i++) assert.equal((await post(`${app.base}/reload?target=app-config&kind=clean`)).outcome, 'success');
  assert.equal(await (await fetch(`${app.base}/health`)).text(), 'ok');
  const lines = app.stderr().split('\n').filter((l) => l.includes(`127.0.0.1:${port}`));
  assert.equal(lines.length, 1, `stderr:\n${app.stderr()}`);
  assert.match(lines[0]!, /^\[reloadscope\] Prometheus metrics endpoint not started: 127\.0\.0\.1:\d+ is already in use\. The application keeps running/);
  assert.match(lines[0]!, /OTEL_EXPORTER_PROMETHEUS_PORT/);
});

test('an SDK the app registered first is reused, not clobbered, and said once', async (t) => {
  const app = await startApp(t, 'own-sdk.mjs', { OTEL_EXPORTER_PROMETHEUS_PORT: '0' }, []);
  const info = app.info as typeof app.info & { outcome: string; metricNames: string[]; spanNames: string[] };
  assert.equal(info.traces, 'reused');
  assert.equal(info.metrics, 'reused');
  assert.equal(info.metricsUrl, null, 'no endpoint of its own next to the app SDK');
  assert.equal(info.outcome, 'success');
  assert.ok(info.metricNames.includes('hotreload.reloads'), 'reload metrics flow into the app MeterProvider');
  assert.ok(info.metricNames.includes('hotreload.heap.delta'), 'node probes too');
  for (const gauge of ['hotreload.generation', 'hotreload.last_reload.success', 'hotreload.retained_versions']) {
    assert.ok(info.metricNames.includes(gauge), `${gauge}: the gauges come through the app reader's currentSeriesProducer`);
  }
  assert.deepEqual(info.spanNames, ['hotreload', 'hotreload.load', 'hotreload.switch', 'hotreload.unload']);
  const exit = await app.exited;
  assert.equal(exit.code, 0, 'the process ends normally: nothing reloadscope started keeps it alive');
  assert.equal(app.stderr().match(/already registered; reloadscope reuses it/g)?.length, 2, `one line per signal:\n${app.stderr()}`);
});
