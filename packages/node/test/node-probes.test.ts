import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EVENTLOOP_BUCKETS_SECONDS, HEAP_DELTA_BUCKETS_BYTES, METRICS } from '@reloadscope/core';
import { busyWait, setup } from './harness.ts';

const TARGET = 'app-config';

test('instruments: exact names, units, types, scope and attributes from the catalogue', async (t) => {
  const h = setup();
  t.after(() => h.close());
  let active = { n: 0 };
  const r = await h.reloads.reload(
    { target: TARGET, trigger: 'api' },
    {
      load: () => ({ n: 1 }),
      switch: (c) => {
        const prev = active;
        active = c;
        return prev;
      },
      unload: () => {},
    },
  );
  assert.equal(r.outcome, 'success');
  await new Promise((resolve) => setImmediate(resolve)); // heap delta is taken after the run unwinds
  const metrics = (await h.metrics()).filter((m) => m.scope === '@reloadscope/node');
  assert.deepEqual(
    metrics.map((m) => [m.name, m.unit, m.type]).sort(),
    [
      [METRICS.eventloopBlocked.name, 's', 'HISTOGRAM'],
      [METRICS.heapDelta.name, 'By', 'HISTOGRAM'],
      [METRICS.resourcesDelta.name, '{resource}', 'GAUGE'],
      [METRICS.retainedVersions.name, '{version}', 'GAUGE'],
    ].sort(),
  );
  const byName = new Map(metrics.map((m) => [m.name, m]));

  const heap = byName.get('hotreload.heap.delta')!;
  assert.equal(heap.points.length, 1);
  assert.deepEqual(heap.points[0]!.attributes, { 'hotreload.target': TARGET });
  assert.equal(heap.points[0]!.value, 1);
  assert.deepEqual(heap.points[0]!.boundaries, [...HEAP_DELTA_BUCKETS_BYTES]);

  const blocked = byName.get('hotreload.eventloop.blocked')!;
  assert.deepEqual(
    blocked.points.map((p) => p.attributes).sort((a, b) => String(a['hotreload.stage']).localeCompare(String(b['hotreload.stage']))),
    ['load', 'switch', 'unload'].map((stage) => ({ 'hotreload.target': TARGET, 'hotreload.stage': stage })),
  );
  for (const p of blocked.points) {
    assert.equal(p.value, 1);
    assert.deepEqual(p.boundaries, [...EVENTLOOP_BUCKETS_SECONDS]);
  }

  const retained = byName.get('hotreload.retained_versions')!;
  assert.deepEqual(retained.points, [{ attributes: { 'hotreload.target': TARGET }, value: 0 }]);

  const resources = byName.get('hotreload.resources.delta')!;
  assert.ok(resources.points.length >= 1, 'at least one resource type is reported');
  for (const p of resources.points) {
    assert.deepEqual(Object.keys(p.attributes).sort(), ['hotreload.resource.type', 'hotreload.target']);
    assert.equal(p.attributes['hotreload.target'], TARGET);
    assert.equal(p.value, 0, `no resource left behind by a clean reload (${p.attributes['hotreload.resource.type']})`);
  }
});

test('a switch that busy-waits 150 ms is reported >= 0.1 s on that stage only', async (t) => {
  const h = setup();
  t.after(() => h.close());
  const r = await h.reloads.reload(
    { target: TARGET },
    {
      load: () => ({ v: 2 }),
      switch: async () => {
        busyWait(150);
        return { v: 1 };
      },
    },
  );
  assert.equal(r.outcome, 'success');
  const blocked = await h.metric('hotreload.eventloop.blocked');
  const sw = blocked?.points.find((p) => p.attributes['hotreload.stage'] === 'switch');
  const load = blocked?.points.find((p) => p.attributes['hotreload.stage'] === 'load');
  assert.ok(sw && load);
  assert.ok(sw.sum! >= 0.1, `switch blocked ${sw.sum} s`);
  assert.ok(sw.sum! < 10, 'a sane upper bound');
  // The load stage returned at once: its worst delay is bounded by its own duration.
  assert.ok(load.sum! < 0.1, `load blocked ${load.sum} s`);
});

test('resources.delta shows a timer left behind by unload, and returns to 0 on a clean reload', async (t) => {
  const h = setup();
  const leaked: Array<ReturnType<typeof setInterval>> = [];
  t.after(() => {
    for (const timer of leaked) clearInterval(timer);
    return h.close();
  });
  const stages = (leak: boolean) => ({
    load: () => ({ at: Date.now() }),
    switch: (c: { at: number }) => {
      if (leak) leaked.push(setInterval(() => c.at, 60_000));
      return { at: 0 };
    },
    unload: () => {},
    identify: () => undefined, // never `unchanged`
  });
  assert.equal((await h.reloads.reload({ target: TARGET }, stages(true))).outcome, 'success');
  const timeout = async () =>
    (await h.metric('hotreload.resources.delta'))?.points.find(
      (p) => p.attributes['hotreload.resource.type'] === 'Timeout' && p.attributes['hotreload.target'] === TARGET,
    )?.value;
  assert.equal(await timeout(), 1);
  assert.equal((await h.reloads.reload({ target: TARGET }, stages(false))).outcome, 'success');
  assert.equal(await timeout(), 0);
});

test('probes stop observing when disabled and do not break reloads', async (t) => {
  const h = setup();
  t.after(() => h.close());
  h.probes.disable();
  const r = await h.reloads.reload({ target: 'quiet' }, { load: () => ({ a: 1 }), switch: () => ({ a: 0 }) });
  assert.equal(r.outcome, 'success');
  const blocked = await h.metric('hotreload.eventloop.blocked');
  assert.equal(blocked, undefined);
  h.probes.enable();
  await h.reloads.reload({ target: 'quiet' }, { load: () => ({ a: 2 }), switch: () => ({ a: 1 }) });
  const after = await h.metric('hotreload.eventloop.blocked');
  assert.equal(after?.points.filter((p) => p.attributes['hotreload.target'] === 'quiet').length, 2);
});

test('runs ending in the same turn each get their heap-delta point', async (t) => {
  const h = setup();
  t.after(() => h.close());
  const targets = ['a', 'b', 'c'];
  const results = await Promise.all(
    targets.map((target) => h.reloads.reload({ target }, { load: () => ({ target }), switch: () => ({ target: 'old' }), identify: () => undefined })),
  );
  assert.deepEqual(
    results.map((r) => r.outcome),
    ['success', 'success', 'success'],
  );
  await new Promise((resolve) => setImmediate(resolve));
  const heap = await h.metric('hotreload.heap.delta');
  assert.deepEqual(
    heap?.points.map((p) => [p.attributes['hotreload.target'], p.value]).sort(),
    targets.map((target) => [target, 1]),
  );
});

test('probes can be switched off one by one: an off probe records nothing, the others still do', async (t) => {
  const h = setup({ probes: { eventLoop: false, resources: false } });
  t.after(() => h.close());
  const r = await h.reloads.reload({ target: TARGET }, { load: () => ({ v: 1 }), switch: () => ({ v: 0 }), unload: () => {} });
  assert.equal(r.outcome, 'success');
  await new Promise((resolve) => setImmediate(resolve));
  const names = (await h.metrics()).filter((m) => m.scope === '@reloadscope/node' && m.points.length > 0).map((m) => m.name);
  assert.deepEqual(names.sort(), [METRICS.heapDelta.name, METRICS.retainedVersions.name].sort());
});
