import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { TraceState as TraceStateImpl } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_GENERATIONS, ReloadInstrumentation } from '@reloadscope/core';
import fc from 'fast-check';
import { formatGenerations, GenerationStampSampler, generationKey, parseGenerations } from '../src/generation-stamp.ts';

function setup(form: 'combined' | 'per-target' = 'combined') {
  const reloads = new ReloadInstrumentation();
  const exporter = new InMemorySpanExporter();
  const stamp = new GenerationStampSampler(new ParentBasedSampler({ root: new AlwaysOnSampler() }), reloads, form);
  const provider = new TracerProvider({ sampler: stamp, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('app');
  const request = (name: string, attributes?: Record<string, string>) => {
    tracer.startSpan(name, { attributes }).end();
    return exporter.getFinishedSpans().find((s) => s.name === name)!;
  };
  return { reloads, request, stamp, provider };
}

const stages = (n: number) => ({ load: () => ({ n }), switch: () => ({ n: n - 1 }) });

test('every span carries hotreload.generations: the generation of every active target in one attribute, updated by each reload', async (t) => {
  const h = setup();
  t.after(() => h.provider.shutdown());
  assert.deepEqual(h.request('before-any-reload').attributes, {}, 'no target is active yet: no attribute at all');
  await h.reloads.reload({ target: 'rules' }, stages(1));
  await h.reloads.reload({ target: 'app-config' }, stages(1));
  await h.reloads.reload({ target: 'app-config' }, stages(2));
  const after = h.request('after', { 'http.route': '/orders' });
  assert.deepEqual(after.attributes, { 'http.route': '/orders', [ATTR_GENERATIONS]: 'app-config=2;rules=1' }, 'sorted by target; the app\'s own attributes kept');
  const failed = await h.reloads.reload({ target: 'rules' }, { load: () => Promise.reject(new Error('bad')), switch: () => undefined });
  assert.equal(failed.outcome, 'failure');
  assert.equal(h.request('after-failure').attributes[ATTR_GENERATIONS], 'app-config=2;rules=1', 'a failed reload changes nothing');
  // One attribute whatever the number of targets.
  for (let i = 0; i < 10; i++) await h.reloads.reload({ target: `t${i}` }, stages(1));
  assert.equal(Object.keys(h.request('twelve').attributes).length, 1);
});

test('the sampler decides as the one it wraps; a span that is not recorded gets nothing', async () => {
  const reloads = new ReloadInstrumentation();
  await reloads.reload({ target: 'app-config' }, stages(1));
  const exporter = new InMemorySpanExporter();
  const off = new TracerProvider({ sampler: new GenerationStampSampler(new AlwaysOffSampler(), reloads), spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const span = off.getTracer('app').startSpan('dropped');
  assert.equal(span.isRecording(), false);
  span.end();
  assert.equal(exporter.getFinishedSpans().length, 0);
  assert.match(String(new GenerationStampSampler(new AlwaysOffSampler(), reloads)), /GenerationStampSampler\{AlwaysOffSampler\}/);
});

test('the wrapped sampler\'s decision, trace state and attributes are kept; its attributes and the stamp are merged', async () => {
  const reloads = new ReloadInstrumentation();
  await reloads.reload({ target: 'app-config' }, stages(1));
  const traceState = new TraceStateImpl('vendor=1');
  const answers: SamplingResult[] = [
    { decision: SamplingDecision.RECORD },
    { decision: SamplingDecision.RECORD_AND_SAMPLED, traceState },
    { decision: SamplingDecision.RECORD_AND_SAMPLED, attributes: { 'sampler.rule': 'slow-path' } },
  ];
  let next = 0;
  const inner: Sampler = { shouldSample: () => answers[next++]!, toString: () => 'Scripted' };
  const stamp = new GenerationStampSampler(inner, reloads);
  const ask = () => stamp.shouldSample(ROOT_CONTEXT, '1'.repeat(32), 'x', SpanKind.SERVER, {}, []);
  assert.deepEqual(ask(), { decision: SamplingDecision.RECORD, attributes: { [ATTR_GENERATIONS]: 'app-config=1' } });
  const withState = ask();
  assert.equal(withState.traceState, traceState);
  assert.equal(withState.decision, SamplingDecision.RECORD_AND_SAMPLED);
  assert.deepEqual(ask().attributes, { 'sampler.rule': 'slow-path', [ATTR_GENERATIONS]: 'app-config=1' });
});

test('per-target (opt-in): also hotreload.generation.<target> as integers, for backends that search one target at a time', async (t) => {
  const h = setup('per-target');
  t.after(() => h.provider.shutdown());
  await h.reloads.reload({ target: 'app-config' }, stages(1));
  await h.reloads.reload({ target: 'rules' }, stages(1));
  await h.reloads.reload({ target: 'rules' }, stages(2));
  assert.deepEqual(h.request('x').attributes, {
    [ATTR_GENERATIONS]: 'app-config=1;rules=2',
    [generationKey('app-config')]: 1,
    [generationKey('rules')]: 2,
  });
});

test('starts from the targets already active and stops following after stop()', async () => {
  const reloads = new ReloadInstrumentation();
  await reloads.reload({ target: 'templates' }, stages(1));
  const exporter = new InMemorySpanExporter();
  const stamp = new GenerationStampSampler(new AlwaysOnSampler(), reloads);
  const provider = new TracerProvider({ sampler: stamp, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  provider.getTracer('app').startSpan('x').end();
  assert.equal(exporter.getFinishedSpans()[0]?.attributes[ATTR_GENERATIONS], 'templates=1');
  stamp.stop();
  await reloads.reload({ target: 'templates' }, stages(2));
  assert.equal(reloads.getActive('templates')?.generation, 2);
  provider.getTracer('app').startSpan('y').end();
  const y = exporter.getFinishedSpans().find((s) => s.name === 'y');
  assert.equal(y?.attributes[ATTR_GENERATIONS], 'templates=1', 'no longer subscribed: the reload after stop() is not followed');
});

test('format: target names are escaped so that any name parses back; the value is one line', () => {
  assert.equal(formatGenerations([['feature-flags/x', 7], ['app-config', 3]]), 'app-config=3;feature-flags/x=7');
  assert.equal(formatGenerations([['a=b;c%d', 1], ['line\nbreak', 2]]), 'a%3Db%3Bc%25d=1;line%0Abreak=2');
  assert.equal(formatGenerations([]), '');
  assert.deepEqual(parseGenerations('a%3Db%3Bc%25d=1;line%0Abreak=2'), new Map([['a=b;c%d', 1], ['line\nbreak', 2]]));
  const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 });
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(name, fc.integer({ min: 1, max: 1e9 })), { selector: ([n]) => n, maxLength: 12 }), (entries) => {
      const text = formatGenerations(entries);
      assert.ok(![...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f), 'no control characters');
      assert.deepEqual(parseGenerations(text), new Map(entries));
      assert.equal(text.split(';').filter(Boolean).length, entries.length, '; separates entries and nothing else');
    }),
    { numRuns: 300, seed: 24 },
  );
});

test('parse: a malformed entry is a TypeError naming it, never a wrong generation', () => {
  for (const bad of ['app-config', 'app-config=', 'app-config=x', '=3', 'a=1;;b=2', 'a=1;a=2', 'a%ZZ=1', 'a=1.5', 'a=-1']) {
    assert.throws(() => parseGenerations(bad), (e: unknown) => e instanceof TypeError && /hotreload\.generations/.test(e.message), bad);
  }
  assert.deepEqual(parseGenerations(''), new Map());
});
