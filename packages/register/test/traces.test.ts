import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { eventually, freePort, type OtlpRequest, post, startApp, startOtlpReceiver } from './helpers.ts';

interface KeyValue {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
}
interface FlatSpan {
  name: string;
  traceId: string;
  service: string | undefined;
  attributes: Record<string, unknown>;
}

function attrs(list: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) {
    const v = kv.value;
    out[kv.key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
  }
  return out;
}

/** Flatten OTLP/HTTP JSON export requests into spans with their resource's service.name. */
function spansOf(requests: OtlpRequest[]): FlatSpan[] {
  const out: FlatSpan[] = [];
  for (const r of requests) {
    assert.equal(r.path, '/v1/traces');
    const body = r.body as {
      resourceSpans: Array<{ resource: { attributes: KeyValue[] }; scopeSpans: Array<{ spans: Array<{ name: string; traceId: string; attributes: KeyValue[] }> }> }>;
    };
    for (const rs of body.resourceSpans) {
      const service = attrs(rs.resource.attributes)['service.name'] as string | undefined;
      for (const ss of rs.scopeSpans) for (const s of ss.spans) out.push({ name: s.name, traceId: s.traceId, service, attributes: attrs(s.attributes) });
    }
  }
  return out;
}

test('spans reach a real OTLP/HTTP receiver with the service name; SIGTERM flushes and still ends the process', async (t) => {
  const receiver = await startOtlpReceiver(t);
  const app = await startApp(t, 'app.mjs', {
    OTEL_SERVICE_NAME: 'trace-test-svc',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_METRICS_EXPORTER: 'none',
  });
  assert.equal(app.info.traces, 'started');
  assert.equal(app.info.metricsUrl, null, 'OTEL_METRICS_EXPORTER=none starts no endpoint');
  const first = await post(`${app.base}/reload?target=app-config&kind=clean`);
  assert.equal(first.outcome, 'success');
  await post(`${app.base}/reload?target=rules&kind=clean`);
  await post(`${app.base}/reload?target=app-config&kind=clean`);
  const workTrace = await (await fetch(`${app.base}/work`)).text();
  await post(`${app.base}/reload?target=app-config&kind=fail`);
  assert.equal(receiver.requests.length, 0, 'nothing exported yet: spans wait in the batch queue');

  app.child.kill('SIGTERM');
  const exit = await app.exited;
  assert.equal(exit.signal, 'SIGTERM', 'default SIGTERM behaviour kept: the process dies by the signal');

  const spans = spansOf(receiver.requests);
  assert.ok(receiver.requests.every((r) => r.contentType?.includes('application/json')));
  assert.ok(spans.length > 0);
  assert.ok(spans.every((s) => s.service === 'trace-test-svc'));
  const names = new Set(spans.map((s) => s.name));
  for (const n of ['hotreload', 'hotreload.load', 'hotreload.switch', 'hotreload.unload', 'GET /work']) assert.ok(names.has(n), `span ${n} exported`);
  const root = spans.find((s) => s.name === 'hotreload' && s.traceId === first.traceId);
  assert.ok(root, 'the first run is exported under the trace id the result reported');
  assert.equal(root.attributes['hotreload.target'], 'app-config');
  assert.equal(root.attributes['hotreload.outcome'], 'success');

  // Generation stamping: the request span carries the generation of every active target, in one attribute.
  const work = spans.find((s) => s.name === 'GET /work');
  assert.equal(work?.traceId, workTrace);
  assert.equal(work?.attributes['hotreload.generations'], 'app-config=2;rules=1');
  assert.equal(work?.attributes['hotreload.generation.app-config'], undefined, 'the per-target form is opt-in');

  // Config content never reaches spans (the failing load's message quotes a password).
  assert.ok(!JSON.stringify(receiver.requests.map((r) => r.body)).includes('hunter2'));
});

test('Collector down: the app keeps serving and says so once, clearly', async (t) => {
  const port = await freePort(); // nothing listens here
  const app = await startApp(t, 'app.mjs', {
    OTEL_SERVICE_NAME: 'no-collector',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`,
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '1000', // bounds the exporter's retries so each flush gives up fast
    OTEL_METRICS_EXPORTER: 'none',
  });
  for (let i = 0; i < 2; i++) {
    await post(`${app.base}/reload?target=app-config&kind=clean`);
    await fetch(`${app.base}/flush`, { method: 'POST' }); // one failed export per round
  }
  await eventually(() => (/cannot export traces/.test(app.stderr()) ? true : undefined), 'the export diagnostic');
  assert.equal((await fetch(`${app.base}/health`)).status, 200);
  assert.equal((await post(`${app.base}/reload?target=app-config&kind=clean`)).outcome, 'success');
  await fetch(`${app.base}/flush`, { method: 'POST' });
  const said = app.stderr().match(/\[reloadscope\] cannot export traces to http:\/\/127\.0\.0\.1:\d+\/v1\/traces \(.*ECONNREFUSED.*\)/g) ?? [];
  assert.equal(said.length, 1, `reported exactly once; stderr:\n${app.stderr()}`);
  // It names the variable the endpoint came from, and says what is true while the app runs.
  assert.match(app.stderr(), /ECONNREFUSED.*\) while the application runs; its spans are dropped until an export succeeds\. Check OTEL_EXPORTER_OTLP_TRACES_ENDPOINT\.\n/);
  assert.equal(app.child.exitCode, null, 'still running');

  // The Collector comes up on that port: recovery is said once too.
  const collector = createServer((req, res) => {
    req.resume().on('end', () => res.end('{}'));
  });
  collector.listen(port, '127.0.0.1');
  await once(collector, 'listening');
  t.after(() => new Promise<void>((r) => collector.close(() => r())));
  await post(`${app.base}/reload?target=app-config&kind=clean`);
  await fetch(`${app.base}/flush`, { method: 'POST' });
  await eventually(() => (/trace export to http:\/\/127\.0\.0\.1:\d+\/v1\/traces works again/.test(app.stderr()) ? true : undefined), 'the recovery notice');
});

test('an app with its own SIGTERM handler keeps control of the exit; spans are still flushed', async (t) => {
  const receiver = await startOtlpReceiver(t);
  const app = await startApp(t, 'app.mjs', {
    OTEL_SERVICE_NAME: 'own-handler',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_METRICS_EXPORTER: 'none',
    APP_HANDLES_SIGTERM: '1',
  });
  await post(`${app.base}/reload?target=app-config&kind=clean`);
  app.child.kill('SIGTERM');
  const exit = await app.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, "the app's handler decided the exit");
  assert.ok(spansOf(receiver.requests).some((s) => s.name === 'hotreload' && s.service === 'own-handler'));
});

test('OTEL_TRACES_EXPORTER=console prints spans; OTEL_LOG_LEVEL=none silences reloadscope notices', async (t) => {
  const port = await freePort();
  const app = await startApp(t, 'app.mjs', {
    OTEL_TRACES_EXPORTER: 'console,zipkin', // zipkin is not bundled: a notice that `none` must silence
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    OTEL_LOG_LEVEL: 'none',
  });
  let out = '';
  app.child.stdout!.on('data', (d: string) => {
    out += d;
  });
  await post(`${app.base}/reload?target=app-config&kind=clean`);
  await eventually(() => (/name: 'hotreload\.switch'/.test(out) ? true : undefined), 'the switch span on stdout');
  assert.equal(app.stderr(), '');
  assert.equal(app.info.traces, 'started');
});
