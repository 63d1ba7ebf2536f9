import assert from 'node:assert/strict';
import { test } from 'node:test';
import { post, startApp, startOtlpReceiver } from './helpers.ts';

interface ExportBody {
  resourceSpans?: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ spans: unknown[] }> }>;
}

function exported(requests: Array<{ body: unknown }>): { spans: number; resource: Record<string, string | undefined> } {
  let spans = 0;
  const resource: Record<string, string | undefined> = {};
  for (const r of requests) {
    for (const rs of (r.body as ExportBody).resourceSpans ?? []) {
      for (const a of rs.resource.attributes) resource[a.key] = a.value.stringValue;
      for (const ss of rs.scopeSpans) spans += ss.spans.length;
    }
  }
  return { spans, resource };
}

async function runAndStop(t: Parameters<typeof startApp>[0], env: Record<string, string>) {
  const receiver = await startOtlpReceiver(t);
  const app = await startApp(t, 'app.mjs', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRICS_EXPORTER: 'none', ...env });
  for (let i = 0; i < 3; i++) assert.equal((await post(`${app.base}/reload?target=app-config&kind=clean`)).outcome, 'success');
  await fetch(`${app.base}/work`);
  app.child.kill('SIGTERM');
  await app.exited;
  return { app, ...exported(receiver.requests) };
}

test('OTEL_TRACES_SAMPLER=always_off and traceidratio with ratio 0 export no span; the default samples all', async (t) => {
  const cases: Array<Record<string, string>> = [{ OTEL_TRACES_SAMPLER: 'always_off' }, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }];
  for (const env of cases) {
    const { app, spans } = await runAndStop(t, env);
    assert.equal(spans, 0, `${JSON.stringify(env)}: nothing sampled, nothing exported`);
    assert.equal(app.stderr(), '', 'valid settings: nothing to say');
  }
  const { spans } = await runAndStop(t, {});
  assert.ok(spans >= 13, `parentbased_always_on: every span exported (got ${spans})`);
});

test('OTEL_TRACES_SAMPLER=xray: the default sampler, said once on stderr', async (t) => {
  const { app, spans } = await runAndStop(t, { OTEL_TRACES_SAMPLER: 'xray' });
  assert.ok(spans >= 13);
  assert.equal(app.stderr(), '[reloadscope] OTEL_TRACES_SAMPLER="xray" needs a remote sampling service and is not bundled; using parentbased_always_on\n');
});

test('one malformed OTEL_RESOURCE_ATTRIBUTES pair costs only that pair, and its value is never printed', async (t) => {
  const { app, resource } = await runAndStop(t, {
    OTEL_SERVICE_NAME: 'env-wins',
    OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr-loses,deployment.environment.name=staging,api.token=%G0hunter2,service.namespace=billing',
  });
  assert.equal(resource['service.name'], 'env-wins');
  assert.equal(resource['deployment.environment.name'], 'staging');
  assert.equal(resource['service.namespace'], 'billing');
  assert.equal(resource['api.token'], undefined);
  const lines = app.stderr().split('\n').filter(Boolean);
  assert.equal(lines.length, 1, app.stderr());
  assert.match(lines[0]!, /^\[reloadscope\] OTEL_RESOURCE_ATTRIBUTES: skipped 1 malformed pair \(pair 3, key "api\.token": invalid characters or percent-encoding in the value\); the other 3 pairs are used/);
  assert.ok(!app.stderr().includes('hunter2'));
});

test('bad numbers in OTEL_* variables: the app starts and serves, one line per variable names it', async (t) => {
  const bad = {
    OTEL_EXPORTER_PROMETHEUS_PORT: 'abc',
    OTEL_BSP_SCHEDULE_DELAY: '-5',
    OTEL_BSP_MAX_QUEUE_SIZE: 'NaN',
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '0',
    RELOADSCOPE_SHUTDOWN_TIMEOUT_MS: 'soon',
  };
  const { app, spans } = await runAndStop(t, bad);
  assert.ok(spans >= 13, 'spans still exported with the defaults');
  const lines = app.stderr().split('\n').filter(Boolean);
  assert.equal(lines.length, Object.keys(bad).length, app.stderr());
  for (const [k, v] of Object.entries(bad)) assert.ok(lines.some((l) => l.startsWith(`[reloadscope] ${k}=${JSON.stringify(v)} is not an integer`)), k);
});
