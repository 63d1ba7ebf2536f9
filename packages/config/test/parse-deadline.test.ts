import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ConfigError, MANIFEST, verifyBundle, watchConfig, writeRelease } from '../src/index.ts';
import { eventually, tempDir } from './harness.ts';

// Old code parsed synchronously on the main thread: the loop stopped for the whole parse (6+ s
// here), timers could not fire, and the deadline was only noticed afterwards.
const MAX_LOOP_GAP_MS = 500;

/** The longest gap between 10 ms ticks while `fn` runs: how long the event loop was blocked. */
async function loopGap<T>(fn: () => Promise<T>): Promise<{ value: T; gapMs: number }> {
  let last = performance.now();
  let gapMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    gapMs = Math.max(gapMs, now - last);
    last = now;
  }, 10);
  try {
    const value = await fn();
    gapMs = Math.max(gapMs, performance.now() - last);
    return { value, gapMs };
  } finally {
    clearInterval(ticker);
  }
}

const threads = () => readdirSync('/proc/self/task').length;

async function yamlWatcher(t: TestContext) {
  const dir = await tempDir(t);
  const file = join(dir, 'config.yaml');
  await writeFile(file, 'name: svc\nport: 8080\n');
  const config = await watchConfig<{ name: string }>({ path: file, watch: false, signal: false });
  t.after(() => config.close());
  return { file, config };
}

test('a CPU-heavy YAML within maxBytes times out at timeoutMs with the loop responsive; the parse thread is stopped and the active config keeps serving', { timeout: 60_000 }, async (t) => {
  const { file, config } = await yamlWatcher(t);
  const before = { value: config.current, hash: config.hash };
  const idleThreads = threads();
  // 2 MiB (a fifth of the default maxBytes): one flow sequence of a million items, ~6 s of parsing.
  await writeFile(file, `[${'1,'.repeat(1_000_000)}1]`);
  const started = performance.now();
  const { value: result, gapMs } = await loopGap(() => config.reload({ timeoutMs: 1000 }));
  const ms = performance.now() - started;
  assert.equal(result.outcome, 'timeout');
  assert.equal(result.error?.code, 'timeout');
  assert.equal(result.error?.stage, 'load');
  assert.ok(ms < 2500, `the run ended at its deadline (${ms.toFixed(0)} ms)`);
  assert.ok(gapMs < MAX_LOOP_GAP_MS, `the event loop was never blocked for long (longest gap ${gapMs.toFixed(0)} ms)`);
  assert.deepEqual(config.current, before.value);
  assert.equal(config.hash, before.hash);
  // The deadline stopped the parse itself, not just the run: its thread is gone.
  await eventually(() => threads() <= idleThreads, 'the parse thread to be terminated', 5000);
  await writeFile(file, 'name: svc2\nport: 8080\n');
  assert.equal((await config.reload()).outcome, 'success');
  assert.equal(config.current.name, 'svc2');
});

test('the 30k-key YAML of the issue (about 400 KiB) is taken without blocking the loop', { timeout: 60_000 }, async (t) => {
  const { file, config } = await yamlWatcher(t);
  let text = 'name: big\n';
  for (let i = 0; i < 30_000; i++) text += `key_${i}: v\n`;
  await writeFile(file, text);
  const { value: result, gapMs } = await loopGap(() => config.reload());
  assert.equal(result.outcome, 'success');
  assert.equal(Object.keys(config.current).length, 30_001);
  assert.ok(gapMs < MAX_LOOP_GAP_MS, `the event loop was never blocked for long (longest gap ${gapMs.toFixed(0)} ms)`);
});

// Old code: JSON.parse of the manifest on the main thread, no depth limit: this one was accepted
// (it names no files) after blocking the loop for seconds.
test('a hostile bundle manifest (4 MiB of nesting) is refused as bundle_invalid without blocking the loop', { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  const dir = await writeRelease(root, 'v1', { 'app.json': '{}' });
  const depth = 2_000_000;
  await writeFile(join(dir, MANIFEST), `{"files": {}, "x": ${'['.repeat(depth)}${']'.repeat(depth)}}`);
  const { value: refused, gapMs } = await loopGap(() => verifyBundle(root, 'v1').then(() => undefined, (err: unknown) => err));
  assert.ok(refused instanceof ConfigError, String(refused));
  assert.equal(refused.code, 'bundle_invalid');
  assert.match(refused.message, /nests deeper than 1000 levels/);
  assert.ok(gapMs < MAX_LOOP_GAP_MS, `the event loop was never blocked for long (longest gap ${gapMs.toFixed(0)} ms)`);
});
