import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DiagLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import { collect, testMeterProvider } from '../../../test/support/metrics.ts';
import { bindCurrentSeries, METRICS, ReloadInstrumentation } from '../src/index.ts';

const load = (text: string) => ({ load: () => text, switch: () => undefined });
const gaugeNames = async (reader: Parameters<typeof collect>[0]) =>
  (await collect(reader)).filter((m) => m.type === 'GAUGE').map((m) => m.name).sort();

test('a source that throws leaves its own gauges out of that collection, once reported; the others and the SDK instruments are unaffected', async (t) => {
  const { reader, meterProvider } = testMeterProvider();
  t.after(() => meterProvider.shutdown());
  const warnings: string[] = [];
  const logger = { warn: (m: string) => warnings.push(m), error() {}, info() {}, debug() {}, verbose() {} } as DiagLogger;
  diag.setLogger(logger, DiagLogLevel.WARN);
  t.after(() => diag.disable());
  const reloads = new ReloadInstrumentation();
  reloads.setMeterProvider(meterProvider);
  await reloads.reload({ target: 'app' }, load('v1'));
  let fail = true;
  const unbind = bindCurrentSeries(meterProvider, { name: 'hostile', version: '1' }, (gauges) => {
    gauges.observe(METRICS.generation, 99, { 'hotreload.target': 'hostile' });
    if (fail) throw Object.assign(new Error('boom'), { name: 'Boom' });
  });
  t.after(unbind);
  for (let i = 0; i < 3; i++) {
    const got = await collect(reader);
    const generation = got.filter((m) => m.name === 'hotreload.generation').flatMap((m) => m.points.map((p) => [p.attributes['hotreload.target'], p.value]));
    assert.deepEqual(generation, [['app', 1]], 'half a state is no state: the hostile source reports nothing');
    assert.ok(got.some((m) => m.name === 'hotreload.reloads'));
  }
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /hostile's gauges threw \(Boom\)/);
  fail = false;
  const after = (await collect(reader)).filter((m) => m.name === 'hotreload.generation' && m.points.some((p) => p.attributes['hotreload.target'] === 'hostile'));
  assert.equal(after.length, 1, 'once it stops throwing it is reported again');
});

test('two instrumentations with one target name on one provider give one series per attribute set, never two identical lines', async (t) => {
  const { reader, meterProvider } = testMeterProvider();
  t.after(() => meterProvider.shutdown());
  const a = new ReloadInstrumentation();
  const b = new ReloadInstrumentation();
  a.setMeterProvider(meterProvider);
  b.setMeterProvider(meterProvider);
  await a.reload({ target: 'shared' }, load('same'));
  await b.reload({ target: 'shared' }, load('same'));
  for (const m of (await collect(reader)).filter((x) => x.type === 'GAUGE')) {
    const keys = m.points.map((p) => JSON.stringify(Object.entries(p.attributes).sort()));
    assert.equal(new Set(keys).size, keys.length, `${m.name}: ${keys.join(' ')}`);
  }
});

test('gauges follow setMeterProvider: the provider left behind no longer reports them', async (t) => {
  const first = testMeterProvider();
  const second = testMeterProvider();
  t.after(() => first.meterProvider.shutdown());
  t.after(() => second.meterProvider.shutdown());
  const reloads = new ReloadInstrumentation();
  reloads.setMeterProvider(first.meterProvider);
  await reloads.reload({ target: 'app' }, load('v1'));
  assert.ok((await gaugeNames(first.reader)).includes('hotreload.config.info'));
  reloads.setMeterProvider(second.meterProvider);
  assert.deepEqual(await gaugeNames(first.reader), []);
  assert.ok((await gaugeNames(second.reader)).includes('hotreload.config.info'));
});

test('createInstrument refuses a gauge: it would be an SDK instrument that keeps every attribute set', async () => {
  const { createInstrument } = await import('../src/index.ts');
  const { meterProvider } = testMeterProvider();
  assert.throws(() => createInstrument(meterProvider.getMeter('x'), METRICS.configInfo), /hotreload\.config\.info: a gauge is not an SDK instrument/);
  await meterProvider.shutdown();
});

test('a reader that collects the instruments but not the gauges (no producer) is said once: alerts on gauges would stay silent', async (t) => {
  const { AggregationTemporality, MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics');
  class BareReader extends MetricReader {
    constructor() {
      super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
    }
    protected override async onForceFlush(): Promise<void> {}
    protected override async onShutdown(): Promise<void> {}
  }
  const errors: string[] = [];
  const logger = { error: (m: string) => errors.push(m), warn() {}, info() {}, debug() {}, verbose() {} } as DiagLogger;
  diag.setLogger(logger, DiagLogLevel.ERROR);
  t.after(() => diag.disable());

  const bare = new BareReader();
  const withoutProducer = new MeterProvider({ readers: [bare] });
  t.after(() => withoutProducer.shutdown());
  const reloads = new ReloadInstrumentation();
  reloads.setMeterProvider(withoutProducer);
  await reloads.reload({ target: 'app' }, load('v1'));
  for (let i = 0; i < 4; i++) await bare.collect();
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /collected @reloadscope\/core's instruments but never its gauges .* currentSeriesProducer/);

  errors.length = 0;
  const wired = testMeterProvider();
  t.after(() => wired.meterProvider.shutdown());
  const other = new ReloadInstrumentation();
  other.setMeterProvider(wired.meterProvider);
  await other.reload({ target: 'app' }, load('v1'));
  for (let i = 0; i < 4; i++) await collect(wired.reader);
  assert.deepEqual(errors, [], 'a reader with the producer is not warned about');
});
