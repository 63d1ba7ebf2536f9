import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReloadInstrumentation } from '../src/index.ts';
import { setup } from './harness.ts';

test('stageEnded gets the stage span still open: an attribute set there is on the exported span', async () => {
  const h = setup();
  const seen: Array<[string, boolean]> = [];
  h.reloads.addObserver({
    stageEnded: (_run, stage, _outcome, _ms, span) => {
      seen.push([stage, span?.isRecording() ?? false]);
      span?.setAttribute('test.stage_seen', stage);
    },
  });
  const r = await h.reloads.reload({ target: 'obs' }, { load: () => ({ v: 1 }), switch: () => undefined, unload: () => {} });
  assert.equal(r.outcome, 'success');
  assert.deepEqual(seen, [
    ['load', true],
    ['switch', true],
    ['unload', true],
  ]);
  const spans = await h.spans();
  for (const stage of ['load', 'switch', 'unload']) {
    assert.equal(spans.find((s) => s.name === `hotreload.${stage}`)?.attributes['test.stage_seen'], stage);
  }
  assert.equal(spans.find((s) => s.name === 'hotreload')?.attributes['test.stage_seen'], undefined);
});

test('stageEnded gets no span when the instrumentation is disabled', async () => {
  const reloads = new ReloadInstrumentation({ enabled: false });
  const spans: unknown[] = [];
  reloads.addObserver({ stageEnded: (_run, _stage, _outcome, _ms, span) => spans.push(span) });
  await reloads.reload({ target: 'off' }, { load: () => ({ v: 1 }), switch: () => undefined });
  assert.deepEqual(spans, [undefined, undefined]);
});
