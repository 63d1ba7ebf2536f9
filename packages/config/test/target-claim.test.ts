import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { watchConfig } from '../src/index.ts';
import { telemetry, tempDir } from './harness.ts';

async function twoDirs(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const a = join(dir, 'a', 'config.yaml');
  const b = join(dir, 'b', 'config.yaml');
  await mkdir(join(dir, 'a'));
  await mkdir(join(dir, 'b'));
  await writeFile(a, 'v: a1\n');
  await writeFile(b, 'v: b1\n');
  return { a, b };
}

test('two watchConfigs of files with one base name on one instrumentation: the second is refused, naming the target', async (t) => {
  const { a, b } = await twoDirs(t);
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const first = await watchConfig({ path: a, instrumentation: tel.reloads, watch: false, signal: false });
  t.after(() => first.close());
  await assert.rejects(watchConfig({ path: b, instrumentation: tel.reloads, watch: false, signal: false }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'target_in_use');
    assert.match(err.message, /"config\.yaml"/);
    assert.match(err.message, /watchConfig\(.*[/\\]a[/\\]config\.yaml\)/, 'names the holder');
    assert.match(err.message, /`target`/, 'says what to set');
    return true;
  });
  // The first watcher is untouched by the refused one.
  await writeFile(a, 'v: a2\n');
  assert.equal((await first.reload()).outcome, 'success');
  assert.deepEqual(first.current, { v: 'a2' });
});

test('with distinct targets both watchers work and each change reloads its own value', async (t) => {
  const { a, b } = await twoDirs(t);
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const ca = await watchConfig({ path: a, target: 'a-config', instrumentation: tel.reloads, watch: false, signal: false });
  t.after(() => ca.close());
  const cb = await watchConfig({ path: b, target: 'b-config', instrumentation: tel.reloads, watch: false, signal: false });
  t.after(() => cb.close());
  await writeFile(b, 'v: b2\n');
  const rb = await cb.reload();
  assert.equal(rb.outcome, 'success');
  assert.equal(rb.target, 'b-config');
  assert.deepEqual(cb.current, { v: 'b2' });
  assert.deepEqual(ca.current, { v: 'a1' });
  await writeFile(a, 'v: b2\n'); // same bytes as b's active version: must not be skipped as unchanged
  const ra = await ca.reload();
  assert.equal(ra.outcome, 'success');
  assert.deepEqual(ca.current, { v: 'b2' });
  assert.equal(await tel.metric('hotreload.generation', { 'hotreload.target': 'a-config' }), 2);
  assert.equal(await tel.metric('hotreload.generation', { 'hotreload.target': 'b-config' }), 2);
});

test('after close() the target can be claimed again (and a refused start leaves no claim behind)', async (t) => {
  const { a, b } = await twoDirs(t);
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const first = await watchConfig({ path: a, instrumentation: tel.reloads, watch: false, signal: false });
  await assert.rejects(watchConfig({ path: b, instrumentation: tel.reloads, watch: false, signal: false }), { code: 'target_in_use' });
  await first.close();
  const second = await watchConfig({ path: b, instrumentation: tel.reloads, watch: false, signal: false });
  t.after(() => second.close());
  assert.deepEqual(second.current, { v: 'b1' });
  assert.equal(second.target, 'config.yaml');
});
