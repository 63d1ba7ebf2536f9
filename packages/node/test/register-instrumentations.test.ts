/**
 * reloadscope's instrumentations no longer extend @opentelemetry/instrumentation's
 * InstrumentationBase (core's NonPatchingInstrumentation implements its interface instead): they
 * must still be what that package's registerInstrumentations() (and so NodeSDK's
 * `instrumentations`) expects, with real SDK providers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ReloadInstrumentation } from '@reloadscope/core';
import { collect, testMeterProvider } from '../../../test/support/metrics.ts';
import { ReloadNodeProbes } from '../src/index.ts';
import { eventually } from './harness.ts';

function pipeline() {
  const { reader, meterProvider } = testMeterProvider();
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const reloads = new ReloadInstrumentation();
  const probes = new ReloadNodeProbes({ instrumentation: reloads });
  const unregister = registerInstrumentations({ instrumentations: [reloads, probes], tracerProvider, meterProvider });
  const points = async (name: string) => (await collect(reader)).find((m) => m.name === name)?.points.filter((p) => p.attributes['hotreload.target'] === 'registered') ?? [];
  const count = async (name: string) => (await points(name)).reduce((n, p) => n + p.value, 0);
  const spanNames = async () => {
    await tracerProvider.forceFlush();
    return exporter.getFinishedSpans().map((s) => s.name);
  };
  const close = async () => {
    unregister();
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  };
  return { reloads, probes, unregister, points, count, spanNames, exporter, close };
}

let version = 0;
const stages = () => {
  const next = ++version;
  return { load: () => ({ version: next }), switch: () => ({ version: next - 1 }), unload: () => {} };
};

test('registerInstrumentations() wires ReloadInstrumentation and ReloadNodeProbes to real providers: a reload gives its spans and metric points', async (t) => {
  const p = pipeline();
  t.after(() => p.close());
  assert.equal(p.reloads.isEnabled(), true);
  assert.equal(p.probes.isEnabled(), true);

  const result = await p.reloads.reload({ target: 'registered' }, stages());
  assert.equal(result.outcome, 'success');
  const names = await p.spanNames();
  assert.equal(names.filter((n) => n === 'hotreload').length, 1, 'one root span, through the registered TracerProvider');
  assert.ok(names.length >= 4, `a span per stage too: ${names.join(', ')}`);
  assert.equal(await p.count('hotreload.reloads'), 1);
  assert.equal(await p.count('hotreload.duration'), 1);
  assert.equal(await p.count('hotreload.eventloop.blocked'), 1, 'the probes record through the registered MeterProvider');
  await eventually(async () => (await p.count('hotreload.heap.delta')) === 1, 'the heap-delta point of the run');
});

test("registerInstrumentations()'s unregister disables both; enable() brings them back", async (t) => {
  const p = pipeline();
  t.after(() => p.close());
  await p.reloads.reload({ target: 'registered' }, stages());
  await eventually(async () => (await p.count('hotreload.heap.delta')) === 1, 'the first run is recorded');
  const spansBefore = (await p.spanNames()).length;

  p.unregister();
  assert.equal(p.reloads.isEnabled(), false);
  assert.equal(p.probes.isEnabled(), false);
  const quiet = await p.reloads.reload({ target: 'registered' }, stages());
  assert.equal(quiet.outcome, 'success', 'reloads keep working while disabled');
  assert.equal((await p.spanNames()).length, spansBefore, 'no spans while disabled');
  assert.equal(await p.count('hotreload.reloads'), 1, 'a disabled run is not counted');
  assert.equal(await p.count('hotreload.duration'), 1);
  assert.equal(await p.count('hotreload.eventloop.blocked'), 1, 'disabled probes do not observe');

  p.reloads.enable();
  p.probes.enable();
  await p.reloads.reload({ target: 'registered' }, stages());
  assert.equal((await p.spanNames()).filter((n) => n === 'hotreload').length, 2);
  assert.equal(await p.count('hotreload.reloads'), 2);
  assert.equal(await p.count('hotreload.duration'), 2);
  assert.equal(await p.count('hotreload.eventloop.blocked'), 2);
  await eventually(async () => (await p.count('hotreload.heap.delta')) === 2, 'the heap-delta point of the re-enabled run');
});

test('an instrumentation constructed with enabled: false is enabled by registerInstrumentations(), as any OpenTelemetry instrumentation', async (t) => {
  const reloads = new ReloadInstrumentation({ enabled: false });
  assert.equal(reloads.isEnabled(), false);
  assert.equal(reloads.getConfig().enabled, false);
  const unregister = registerInstrumentations({ instrumentations: [reloads], meterProvider: new MeterProvider() });
  t.after(unregister);
  assert.equal(reloads.isEnabled(), true);
  assert.deepEqual(new ReloadInstrumentation({ errorMessages: 'none' }).getConfig(), { enabled: true, errorMessages: 'none' }, 'enabled defaults to true');
});
