import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { cleanEnv, FIXTURES } from './helpers.ts';

const run = promisify(execFile);

/** What the process loaded by 400 ms after the app's first turn (deferred loads included). */
async function loadedLater(extra: Record<string, string>): Promise<{ runtimeNode: boolean; otlp: boolean; exporters: string[] }> {
  const { stdout } = await run(process.execPath, ['--import', `${FIXTURES}loaded-modules.mjs`, '--import', '@reloadscope/register', '-e', ''], {
    env: cleanEnv({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_PROMETHEUS_PORT: '0', ...extra }),
    cwd: FIXTURES,
  });
  return JSON.parse(stdout) as { runtimeNode: boolean; otlp: boolean; exporters: string[] };
}
const loadsRuntimeNode = async (extra: Record<string, string>) => (await loadedLater(extra)).runtimeNode;

/** The module URLs loaded when the app (first-turn-app.mjs) reaches its first turn of the loop. */
async function loadedAtFirstTurn(extra: Record<string, string> = {}): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--import', `${FIXTURES}loaded-modules.mjs`, '--import', '@reloadscope/register', `${FIXTURES}first-turn-app.mjs`], {
    // The defaults: OTLP traces (to a port where nothing listens), Prometheus, probes, runtime metrics.
    env: cleanEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces', OTEL_EXPORTER_PROMETHEUS_PORT: '0', ...extra }),
    cwd: FIXTURES,
  });
  return JSON.parse(stdout) as string[];
}
const packagesIn = (urls: string[], pkgs: string[]) => pkgs.filter((pkg) => urls.some((u) => u.includes(`/node_modules/${pkg}/`)));

test('start-up loads nothing the environment disabled: RELOADSCOPE_RUNTIME_METRICS=false never loads runtime-node', async () => {
  assert.equal(await loadsRuntimeNode({ RELOADSCOPE_RUNTIME_METRICS: 'false' }), false);
});

test('runtime metrics on (the default): runtime-node is loaded, after boot', async () => {
  assert.equal(await loadsRuntimeNode({}), true);
});

test("nothing that patches modules is loaded before the app's first turn: no @opentelemetry/instrumentation, require-in-the-middle, import-in-the-middle", async () => {
  const urls = await loadedAtFirstTurn();
  assert.ok(
    urls.some((u) => u.includes('/node_modules/@opentelemetry/sdk-metrics/')) && urls.some((u) => /\/(?:packages\/|node_modules\/@reloadscope\/)node\//.test(u)),
    'register booted the SDK and the probes before the app ran',
  );
  assert.deepEqual(packagesIn(urls, ['@opentelemetry/instrumentation', 'require-in-the-middle', 'import-in-the-middle', 'debug']), []);
});

test("what no reload needs is loaded after the app's first turn: runtime-node and the OTLP exporter, which still arrive", async () => {
  const deferred = ['@opentelemetry/instrumentation-runtime-node', '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/otlp-exporter-base', '@opentelemetry/otlp-transformer'];
  assert.deepEqual(packagesIn(await loadedAtFirstTurn(), deferred), []);
  const later = await loadedLater({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces' });
  assert.deepEqual([later.runtimeNode, later.otlp], [true, true]);
});

test('OTEL_TRACES_EXPORTER=none never loads the OTLP exporter', async () => {
  assert.equal((await loadedLater({})).otlp, false);
});

test('OTLP metrics and protobuf: the exporter of each signal and encoding is loaded after the first turn, and only the one asked for', async () => {
  const push = {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_METRICS_EXPORTER: 'prometheus,otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram',
  };
  const proto = ['@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/exporter-metrics-otlp-proto'];
  const all = [...proto, '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/exporter-metrics-otlp-http', '@opentelemetry/otlp-transformer'];
  assert.deepEqual(packagesIn(await loadedAtFirstTurn(push), all), [], 'nothing of the push path before the app ran');
  // The metrics proto exporter builds on the JSON one's base class: that one comes along, the trace JSON exporter does not.
  assert.deepEqual((await loadedLater(push)).exporters, ['@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/exporter-metrics-otlp-http', '@opentelemetry/exporter-metrics-otlp-proto']);
  assert.deepEqual((await loadedLater({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' })).exporters, ['@opentelemetry/exporter-metrics-otlp-http']);
  assert.deepEqual((await loadedLater({})).exporters, [], 'the defaults push nothing and load no exporter');
});
