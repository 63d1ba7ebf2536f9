import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { test } from 'node:test';
import { EVENTLOOP_BUCKETS_SECONDS, HEAP_DELTA_BUCKETS_BYTES, METRICS } from '@reloadscope/core';
import { brokenHeapMeter } from './fixtures/broken-heap-meter.ts';
import { busyWait, setup } from './harness.ts';

const EXACT_BROKEN_CHILD = fileURLToPath(new URL('./fixtures/exact-heap-broken-meter-child.ts', import.meta.url));

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

  // One point per run, named by its worst stage (which of three near-zero stages is timing's choice).
  const blocked = byName.get('hotreload.eventloop.blocked')!;
  assert.equal(blocked.points.length, 1);
  const [point] = blocked.points;
  assert.deepEqual(Object.keys(point!.attributes).sort(), ['hotreload.stage', 'hotreload.target']);
  assert.equal(point!.attributes['hotreload.target'], TARGET);
  assert.ok(['load', 'switch', 'unload'].includes(String(point!.attributes['hotreload.stage'])));
  assert.equal(point!.value, 1);
  assert.deepEqual(point!.boundaries, [...EVENTLOOP_BUCKETS_SECONDS]);

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

test('a switch that busy-waits 150 ms: one point per run, on the switch stage, >= 0.1 s', async (t) => {
  const h = setup();
  t.after(() => h.close());
  const stages = {
    load: () => ({ v: 2 }),
    switch: async () => {
      busyWait(150);
      return { v: 1 };
    },
    unload: () => {},
    identify: () => undefined, // never `unchanged`
  };
  for (let i = 0; i < 2; i++) assert.equal((await h.reloads.reload({ target: TARGET }, stages)).outcome, 'success');
  const blocked = await h.metric('hotreload.eventloop.blocked');
  assert.deepEqual(
    blocked?.points.map((p) => [p.attributes, p.value]),
    [[{ 'hotreload.target': TARGET, 'hotreload.stage': 'switch' }, 2]],
    'two runs, two points, both on the worst stage; none for load or unload',
  );
  const [sw] = blocked!.points;
  assert.ok(sw!.sum! >= 0.2, `switch blocked ${sw!.sum} s over two runs`);
  assert.ok(sw!.sum! < 20, 'a sane upper bound');
});

test("each stage span carries that stage's own blockage; the root span carries none", async (t) => {
  const h = setup({}, { tracing: true });
  t.after(() => h.close());
  const r = await h.reloads.reload(
    { target: TARGET },
    {
      load: () => ({ v: 2 }),
      switch: () => {
        busyWait(150);
        return { v: 1 };
      },
      unload: () => {},
    },
  );
  assert.equal(r.outcome, 'success');
  const spans = await h.spans();
  const blockedOf = (name: string) => spans.find((s) => s.name === name)?.attributes['hotreload.eventloop.blocked'];
  const sw = blockedOf('hotreload.switch');
  const load = blockedOf('hotreload.load');
  const unload = blockedOf('hotreload.unload');
  assert.equal(typeof sw, 'number');
  assert.ok((sw as number) >= 0.1 && (sw as number) < 10, `switch span: ${sw} s`);
  // load and unload returned at once: their worst delay is bounded by their own duration.
  assert.equal(typeof load, 'number');
  assert.ok((load as number) < 0.1, `load span: ${load} s`);
  assert.equal(typeof unload, 'number');
  assert.ok((unload as number) < 0.1, `unload span: ${unload} s`);
  assert.equal(blockedOf('hotreload'), undefined);
  // The histogram's one point is the switch's reading.
  const [point] = (await h.metric('hotreload.eventloop.blocked'))!.points;
  assert.equal(point!.sum, sw);
});

test('above maxActiveResources the resources probe reads nothing and says _skipped', async (t) => {
  const h = setup({ maxActiveResources: 2 });
  const servers = await Promise.all([0, 1, 2].map(() => listening()));
  t.after(async () => {
    for (const server of servers) server.close();
    await h.close();
  });
  const r = await h.reloads.reload({ target: TARGET }, { load: () => ({ v: 1 }), switch: () => ({ v: 0 }), unload: () => {} });
  assert.equal(r.outcome, 'success');
  const points = (await h.metric('hotreload.resources.delta'))?.points.filter((p) => p.attributes['hotreload.target'] === TARGET);
  assert.deepEqual(points, [{ attributes: { 'hotreload.target': TARGET, 'hotreload.resource.type': '_skipped' }, value: 1 }]);
});

test('below maxActiveResources the resources probe reads as before (no _skipped)', async (t) => {
  const h = setup({ maxActiveResources: 10_000 });
  const servers = await Promise.all([0, 1, 2].map(() => listening()));
  t.after(async () => {
    for (const server of servers) server.close();
    await h.close();
  });
  await h.reloads.reload({ target: TARGET }, { load: () => ({ v: 1 }), switch: () => ({ v: 0 }), unload: () => {} });
  const points = (await h.metric('hotreload.resources.delta'))?.points.filter((p) => p.attributes['hotreload.target'] === TARGET);
  assert.deepEqual(
    points?.find((p) => p.attributes['hotreload.resource.type'] === 'TCPServerWrap'),
    { attributes: { 'hotreload.target': TARGET, 'hotreload.resource.type': 'TCPServerWrap' }, value: 0 },
  );
  assert.equal(points?.some((p) => p.attributes['hotreload.resource.type'] === '_skipped'), false);
});

test('maxActiveResources: anything but an integer >= 0 is a TypeError naming the option', () => {
  for (const bad of [-1, 1.5, Number.NaN, '10' as unknown as number]) {
    assert.throws(() => setup({ maxActiveResources: bad }), (e: unknown) => e instanceof TypeError && /maxActiveResources/.test(e.message));
  }
});

/** Probes on a fresh harness, and stages whose switch leaves a timer behind when asked to (cleared after the test). */
function leakyTimers(t: { after(fn: () => unknown): void }) {
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
  return { h, stages };
}

test('resources.delta shows a timer left behind by unload, and returns to 0 on a clean reload', async (t) => {
  const { h, stages } = leakyTimers(t);
  assert.equal((await h.reloads.reload({ target: TARGET }, stages(true))).outcome, 'success');
  const timeout = async () =>
    (await h.metric('hotreload.resources.delta'))?.points.find(
      (p) => p.attributes['hotreload.resource.type'] === 'Timeout' && p.attributes['hotreload.target'] === TARGET,
    )?.value;
  assert.equal(await timeout(), 1);
  assert.equal((await h.reloads.reload({ target: TARGET }, stages(false))).outcome, 'success');
  assert.equal(await timeout(), 0);
});

test('resources.delta after clean reloads in a row still shows the next leak, and its fix', async (t) => {
  const { h, stages } = leakyTimers(t);
  const gauge = async () =>
    Object.fromEntries(
      ((await h.metric('hotreload.resources.delta'))?.points ?? [])
        .filter((p) => p.attributes['hotreload.target'] === TARGET)
        .map((p) => [p.attributes['hotreload.resource.type'], p.value]),
    );
  const seen: Array<number | undefined> = [];
  // Clean reloads leave the same handle list behind each time (the probe then keeps the gauge as
  // it is); the leak in the middle must still show, and the clean reload after it must clear it.
  for (const leak of [false, false, false, true, false, false]) {
    assert.equal((await h.reloads.reload({ target: TARGET }, stages(leak))).outcome, 'success');
    const g = await gauge();
    seen.push(g.Timeout);
    assert.ok(Object.values(g).every((v) => v === 0 || v === 1), `only 0 and the leak's +1: ${JSON.stringify(g)}`);
  }
  assert.deepEqual(seen.slice(3), [1, 0, 0]);
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
  const quiet = after?.points.filter((p) => p.attributes['hotreload.target'] === 'quiet');
  assert.equal(quiet?.reduce((n, p) => n + p.value, 0), 1, 'one point for the one observed run');
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

test('many targets reloading at once: each run keeps its own readings (past the probes\' run index threshold)', async (t) => {
  const h = setup();
  t.after(() => h.close());
  const targets = Array.from({ length: 40 }, (_, i) => `t${i}`);
  // Every run is open at once: each stage waits until all 40 runs have started.
  let started = 0;
  let release: () => void = () => {};
  const allStarted = new Promise<void>((resolve) => {
    release = resolve;
  });
  const results = await Promise.all(
    targets.map((target) =>
      h.reloads.reload(
        { target },
        {
          load: async () => {
            if (++started === targets.length) release();
            await allStarted;
            return { target };
          },
          switch: () => ({ target: 'old' }),
          identify: () => undefined,
        },
      ),
    ),
  );
  assert.ok(results.every((r) => r.outcome === 'success'));
  const perTarget = (name: string) => h.metric(name).then((m) => m?.points.map((p) => [p.attributes['hotreload.target'], p.value]).sort());
  const expected = targets.map((target) => [target, 1]).sort();
  assert.deepEqual(await perTarget('hotreload.heap.delta'), expected);
  assert.deepEqual(await perTarget('hotreload.eventloop.blocked'), expected);
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

test('a meter that throws on the heap histogram loses those points and nothing else', async (t) => {
  const h = setup();
  t.after(() => h.close());
  const real = new MeterProvider();
  t.after(() => real.shutdown());
  const broken = brokenHeapMeter(real);
  h.probes.setMeterProvider(broken.provider);
  for (let i = 0; i < 2; i++) {
    const r = await h.reloads.reload({ target: TARGET }, { load: () => ({ v: i }), switch: () => ({ v: -1 }), identify: () => undefined });
    assert.equal(r.outcome, 'success');
  }
  assert.equal(broken.thrown(), 2, 'the heap point was attempted at the end of each run');
});

test('in exact mode the same meter cannot crash the process from the deferred heap reading', async () => {
  // Exact mode reads the heap from an immediate, outside core's isolation of observer hooks.
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', EXACT_BROKEN_CHILD], { timeout: 30_000 });
  assert.deepEqual(JSON.parse(stdout), { outcomes: ['success', 'success'], thrown: 2 });
});

function listening(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
