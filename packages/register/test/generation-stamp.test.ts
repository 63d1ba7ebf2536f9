import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ReloadInstrumentation } from '@reloadscope/core';
import { GenerationStampProcessor, generationKey } from '../src/generation-stamp.ts';

function setup() {
  const reloads = new ReloadInstrumentation();
  const exporter = new InMemorySpanExporter();
  const stamp = new GenerationStampProcessor(reloads);
  const provider = new TracerProvider({ spanProcessors: [stamp, new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('app');
  const request = (name: string) => {
    tracer.startSpan(name).end();
    return exporter.getFinishedSpans().find((s) => s.name === name)!;
  };
  return { reloads, request, stamp, provider };
}

const stages = (n: number) => ({ load: () => ({ n }), switch: () => ({ n: n - 1 }) });

test('spans carry hotreload.generation.<target> for every active target, updated by each reload', async (t) => {
  const h = setup();
  t.after(() => h.provider.shutdown());
  assert.deepEqual(h.request('before-any-reload').attributes, {}, 'no target is active yet');
  await h.reloads.reload({ target: 'app-config' }, stages(1));
  await h.reloads.reload({ target: 'app-config' }, stages(2));
  await h.reloads.reload({ target: 'rules' }, stages(1));
  assert.deepEqual(h.request('after').attributes, { 'hotreload.generation.app-config': 2, 'hotreload.generation.rules': 1 });
  const failed = await h.reloads.reload({ target: 'rules' }, { load: () => Promise.reject(new Error('bad')), switch: () => undefined });
  assert.equal(failed.outcome, 'failure');
  assert.equal(h.request('after-failure').attributes['hotreload.generation.rules'], 1, 'a failed reload changes nothing');
});

test('starts from the targets already active and stops following after shutdown', async () => {
  const reloads = new ReloadInstrumentation();
  await reloads.reload({ target: 'templates' }, stages(1));
  const exporter = new InMemorySpanExporter();
  const stamp = new GenerationStampProcessor(reloads);
  const provider = new TracerProvider({ spanProcessors: [stamp, new SimpleSpanProcessor({ exporter })] });
  provider.getTracer('app').startSpan('x').end();
  assert.equal(exporter.getFinishedSpans()[0]?.attributes[generationKey('templates')], 1);
  await stamp.shutdown();
  await reloads.reload({ target: 'templates' }, stages(2));
  assert.equal(reloads.getActive('templates')?.generation, 2);
  provider.getTracer('app').startSpan('y').end();
  const y = exporter.getFinishedSpans().find((s) => s.name === 'y');
  assert.equal(y?.attributes[generationKey('templates')], 1, 'no longer subscribed: the reload after shutdown is not followed');
});
