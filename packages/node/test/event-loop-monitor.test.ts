import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLoopMonitor } from '../src/index.ts';
import { busyWait, eventually } from './harness.ts';

test('samples while something is open and disarms at the first tick after', async () => {
  const m = new EventLoopMonitor(5);
  assert.equal(m.sampling, false);
  m.begin(1);
  m.begin(2);
  assert.equal(m.sampling, true);
  m.end(1);
  await new Promise((r) => setTimeout(r, 30)); // ticks run while stage 2 is still open
  assert.equal(m.sampling, true);
  m.end(2);
  m.begin(3); // a stage right after another reuses the armed timer
  m.end(3);
  assert.equal(m.end(4), undefined, 'ending something never begun yields undefined');
  await eventually(() => (m.sampling ? undefined : true), 'the timer disarmed once nothing is open', 5_000);
  m.begin(5);
  assert.equal(m.sampling, true, 'the next stage arms it again');
  m.stop();
  assert.equal(m.sampling, false);
});

test('a synchronous block that ends with the stage is counted', () => {
  const m = new EventLoopMonitor(10);
  m.begin(1);
  busyWait(120);
  const s = m.end(1)!;
  assert.ok(s >= 0.1, `measured ${s}`);
});

test('a block seen by a tick is kept as the worst even if the stage then idles', async () => {
  const m = new EventLoopMonitor(5);
  m.begin(1);
  await new Promise((r) => setTimeout(r, 10));
  busyWait(120);
  await new Promise((r) => setTimeout(r, 30)); // ticks observe the block, then the loop is idle
  const s = m.end(1)!;
  assert.ok(s >= 0.1, `measured ${s}`);
});

test('a block before a stage began is not attributed to it', async () => {
  const m = new EventLoopMonitor(5);
  m.begin(1);
  await new Promise((r) => setTimeout(r, 10));
  busyWait(120);
  m.begin(2); // starts right after the block, before any tick observed it
  await new Promise((r) => setTimeout(r, 30));
  const first = m.end(1)!;
  const second = m.end(2)!;
  assert.ok(first >= 0.1, `first ${first}`);
  assert.ok(second < 0.1, `second ${second}`);
});

test('rejects a nonsensical resolution', () => {
  assert.throws(() => new EventLoopMonitor(0), TypeError);
});

test('close(span, elapsedMs) ends the span at startedAt + elapsedMs instead of reading the clock', () => {
  const m = new EventLoopMonitor(10);
  const span = { startedAt: 0, worstMs: 0 };
  m.open(span);
  busyWait(120);
  // The caller measured the span as instantaneous: the block came after its end, so it is not the span's.
  assert.equal(m.close(span, 0), 0);
  for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
    m.open(span);
    busyWait(120);
    const s = m.close(span, bad)!;
    assert.ok(s >= 0.1, `elapsedMs ${bad} falls back to the clock: measured ${s}`);
  }
});

test('open(span, startedAt) starts the span at the caller\'s clock reading; a bad one falls back to the clock', () => {
  const m = new EventLoopMonitor(10);
  const span = { startedAt: 0, worstMs: 0 };
  // The caller read the clock 120 ms ago, before a block: from that start the block is the span's.
  const before = performance.now();
  busyWait(120);
  m.open(span, before);
  assert.equal(span.startedAt, before);
  const s = m.close(span)!;
  assert.ok(s >= 0.1, `a span begun before the block includes it: measured ${s}`);
  m.stop();
  for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
    const at = performance.now();
    m.open(span, bad);
    assert.ok(span.startedAt >= at, `startedAt ${String(bad)} falls back to the clock`);
    m.close(span);
    m.stop();
  }
});

test('spans closed out of order: the others stay open and sampled, a closed one closes once', async () => {
  const m = new EventLoopMonitor(5);
  const [a, b, c] = [0, 1, 2].map(() => ({ startedAt: 0, worstMs: 0 }));
  m.open(a!);
  m.open(b!);
  m.open(b!); // opening an open span again restarts it, it is not listed twice
  m.open(c!);
  assert.ok(m.close(b!) !== undefined);
  assert.equal(m.close(b!), undefined, 'b is closed');
  await new Promise((r) => setTimeout(r, 10));
  busyWait(120);
  await new Promise((r) => setTimeout(r, 30)); // ticks see the block while a and c are open
  const sa = m.close(a!)!;
  const sc = m.close(c!)!;
  assert.ok(sa >= 0.1 && sc >= 0.1, `a ${sa}, c ${sc}`);
  assert.equal(m.close(a!), undefined);
  assert.equal(m.close(c!), undefined);
});
