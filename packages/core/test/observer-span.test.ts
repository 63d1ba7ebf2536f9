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

test('stageStarted gets the stage\'s start on the performance.now() clock, and stageEnded\'s durationMs counts from it', async () => {
  const h = setup();
  const seen: Array<{ stage: string; before: number; startedAt: number; durationMs?: number; after?: number }> = [];
  let before = 0;
  h.reloads.addObserver({
    stageStarted: (_run, stage, startedAt) => {
      seen.push({ stage, before, startedAt });
    },
    stageEnded: (_run, _stage, _outcome, durationMs) => {
      const entry = seen.at(-1)!;
      entry.durationMs = durationMs;
      entry.after = performance.now();
    },
  });
  const busy = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };
  before = performance.now();
  const load = () => {
    busy(30);
    return { v: 1 };
  };
  const r = await h.reloads.reload({ target: 'clock' }, { load, switch: () => undefined });
  assert.equal(r.outcome, 'success');
  assert.deepEqual(
    seen.map((e) => e.stage),
    ['load', 'switch'],
  );
  for (const e of seen) {
    assert.ok(e.startedAt >= e.before && e.startedAt <= e.after!, `${e.stage}: startedAt ${e.startedAt} within [${e.before}, ${e.after}]`);
    const end = e.startedAt + e.durationMs!;
    assert.ok(end <= e.after! && end >= e.after! - 5, `${e.stage}: startedAt + durationMs (${end}) is when the stage ended (${e.after})`);
  }
  assert.ok(seen[0]!.durationMs! >= 30, 'the load stage took its 30 ms');
});

test('stageEnded gets no span when the instrumentation is disabled', async () => {
  const reloads = new ReloadInstrumentation({ enabled: false });
  const spans: unknown[] = [];
  reloads.addObserver({ stageEnded: (_run, _stage, _outcome, _ms, span) => spans.push(span) });
  await reloads.reload({ target: 'off' }, { load: () => ({ v: 1 }), switch: () => undefined });
  assert.deepEqual(spans, [undefined, undefined]);
});

test('an observer whose hook getter throws cannot fail a reload or reject reload(); the other observers still hear every event', async () => {
  const h = setup();
  const hostile = {};
  for (const hook of ['runStarted', 'stageStarted', 'stageEnded', 'versionUnloaded', 'runEnded']) {
    Object.defineProperty(hostile, hook, {
      get() {
        throw new Error(`getter ${hook}`);
      },
    });
  }
  h.reloads.addObserver(hostile);
  const events: string[] = [];
  h.reloads.addObserver({ runStarted: () => events.push('start'), stageEnded: (_r, s) => events.push(s), runEnded: (_r, res) => events.push(res.outcome) });
  const r = await h.reloads.reload({ target: 'getters' }, { load: () => ({ v: 1 }), switch: () => undefined });
  assert.equal(r.outcome, 'success');
  assert.deepEqual(events, ['start', 'load', 'switch', 'success']);
});

test('addObserver refuses what is not an object with a TypeError naming it', () => {
  const reloads = new ReloadInstrumentation();
  for (const bad of [null, undefined, 42, 'observer']) {
    assert.throws(() => reloads.addObserver(bad as never), { name: 'TypeError', message: /addObserver\(observer\)/ });
  }
});

test('an observer that unsubscribes inside a hook does not make the next observer miss that hook', async () => {
  const reloads = new ReloadInstrumentation();
  const heard: string[] = [];
  const off = reloads.addObserver({ runStarted: () => off() });
  reloads.addObserver({ runStarted: (run) => heard.push(run.target) });
  await reloads.reload({ target: 'a' }, { load: () => 1, switch: () => undefined });
  await reloads.reload({ target: 'b' }, { load: () => 1, switch: () => undefined });
  assert.deepEqual(heard, ['a', 'b']);
});
