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
