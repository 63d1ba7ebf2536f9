import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RetainedVersions } from '../src/index.ts';
import { eventually, setup } from './harness.ts';

// A real full GC for the test only. It is deliberately NOT put on globalThis: these tests exercise
// the path where reloadscope does not have `gc` and must notice the major GC through the
// PerformanceObserver, exactly as in a production process without --expose-gc.
setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

test('a version still reachable after a full GC counts as retained; a released one does not', async () => {
  const retained = new RetainedVersions(0);
  const keep: object[] = [];
  let kept: object | undefined = { name: 'v1' };
  keep.push(kept);
  assert.equal(retained.track('rules', kept), true);
  kept = undefined;
  (() => {
    assert.equal(retained.track('rules', { name: 'v2' }), true); // unreachable right away
  })();
  assert.deepEqual([...retained.counts()], [['rules', 0]], 'nothing counts before a full GC has run');
  await new Promise((r) => setTimeout(r, 5));
  fullGc();
  await eventually(() => (retained.counts().get('rules') === 1 ? true : undefined), 'one retained version');
  keep.length = 0;
  await new Promise((r) => setTimeout(r, 5));
  fullGc();
  await eventually(() => (retained.counts().get('rules') === 0 ? true : undefined), 'retained count back to 0');
  assert.equal(retained.watching, 0);
  retained.stop();
});

test('within the grace period a version is not counted, even after a GC', async () => {
  const retained = new RetainedVersions(60_000);
  const held = { name: 'v1' };
  retained.track('t', held);
  fullGc();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(retained.counts().get('t'), 0);
  assert.equal(retained.watching, 1);
  retained.stop();
});

test('primitives cannot be watched and are refused without error', () => {
  const retained = new RetainedVersions(0);
  assert.equal(retained.track('t', 'a string config'), false);
  assert.equal(retained.track('t', undefined), false);
  assert.deepEqual([...retained.counts()], [['t', 0]]);
  assert.throws(() => new RetainedVersions(-1), TypeError);
});

test('through core: an unload that leaves a listener closing over the old version is reported', async (t) => {
  const h = setup({ retainedGraceMs: 0 });
  const emitter = new EventTarget();
  const listeners: Array<() => void> = [];
  t.after(() => {
    for (const l of listeners) emitter.removeEventListener('tick', l);
    return h.close();
  });
  let active: { version: number; data: number[] } = { version: 0, data: [] };
  const reloadOnce = (leak: boolean) =>
    h.reloads.reload(
      { target: 'plugins' },
      {
        load: () => ({ version: active.version + 1, data: new Array(1000).fill(active.version) }),
        switch: (next) => {
          const previous = active;
          active = next;
          if (leak) {
            const l = () => void next.data.length; // closes over the version that becomes old next time
            listeners.push(l);
            emitter.addEventListener('tick', l);
          }
          return previous;
        },
        unload: () => {},
      },
    );
  const retainedNow = async () =>
    (await h.metric('hotreload.retained_versions'))?.points.find((p) => p.attributes['hotreload.target'] === 'plugins')?.value;

  for (let i = 0; i < 3; i++) assert.equal((await reloadOnce(true)).outcome, 'success');
  // versions 1 and 2 are now old but held by their listeners; version 0 was never listened to.
  await new Promise((r) => setTimeout(r, 5));
  fullGc();
  await eventually(async () => ((await retainedNow()) === 2 ? true : undefined), 'two retained versions');

  for (const l of listeners) emitter.removeEventListener('tick', l);
  listeners.length = 0;
  await new Promise((r) => setTimeout(r, 5));
  fullGc();
  await eventually(async () => ((await retainedNow()) === 0 ? true : undefined), 'retained back to 0 after the listeners are removed');
});

test('a version unloaded again is one version: watched once, counted once', async () => {
  const retained = new RetainedVersions(0);
  const a = { name: 'a' };
  const b = { name: 'b' };
  for (let i = 0; i < 50; i++) retained.track('toggle', i % 2 ? a : b); // a target switching between two cached objects
  assert.equal(retained.watching, 2, 'the probe itself does not grow with the number of unloads');
  await new Promise((r) => setTimeout(r, 5));
  fullGc();
  await eventually(() => (retained.counts().get('toggle') === 2 ? true : undefined), 'both objects counted once');
  retained.stop();
});

test('a globalThis.gc that throws cannot crash the process from the retention GC timer', async (t) => {
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  let calls = 0;
  g.gc = () => {
    calls++;
    throw new Error('not V8 gc');
  };
  const retained = new RetainedVersions(0);
  t.after(() => {
    retained.stop();
    g.gc = saved;
  });
  const held = { name: 'v1' };
  retained.track('t', held);
  await eventually(() => (calls > 0 ? true : undefined), 'the forced GC was attempted');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(calls, 1, 'no retry before the spacing has passed');
  assert.equal(retained.counts().get('t'), 0, 'a GC that threw is not a full GC: nothing counts as retained');
});
