import assert from 'node:assert/strict';
import { test } from 'node:test';
import { activate, load, plainApps, sleep, startCluster } from './harness.ts';

const UPGRADES = 20;

test('20 upgrades between two releases under keep-alive load: no failed request, no reset, the new release answers after each', { timeout: 120_000 }, async (t) => {
  const { root, port, tel, supervisor } = await startCluster(t, plainApps('a', 'b'), { stabilizeMs: 200, idleCloseMs: 200, drainTimeoutMs: 5000 });
  const traffic = load(port, 4);
  t.after(() => traffic.stop());
  await sleep(200);

  const windows: Array<{ from: number; until: number; release: string }> = [];
  for (let i = 0; i < UPGRADES; i++) {
    const release = i % 2 === 0 ? 'b' : 'a';
    const previous = windows.at(-1);
    if (previous) previous.until = performance.now();
    await activate(root, release);
    const result = await supervisor.upgrade();
    assert.equal(result.outcome, 'success', `upgrade ${i}: ${result.error?.code} ${result.error?.message}`);
    assert.equal(result.version, release);
    windows.push({ from: performance.now(), until: Number.POSITIVE_INFINITY, release });
    await sleep(100);
  }
  await traffic.stop();

  const failed = traffic.samples.filter((s) => s.error !== undefined || s.status !== 200);
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${traffic.samples.length} requests failed`);
  assert.ok(traffic.samples.length > UPGRADES * 10, `enough load: ${traffic.samples.length} requests`);
  // Every request that started after an upgrade resolved (and before the next began) was answered by its release.
  for (const [i, w] of windows.entries()) {
    const inWindow = traffic.samples.filter((s) => s.started > w.from && s.started < w.until);
    const stale = inWindow.filter((s) => s.body !== w.release);
    assert.deepEqual(stale.slice(0, 3), [], `after upgrade ${i} to ${w.release}`);
  }
  const workers = supervisor.workers();
  assert.equal(workers.length, 2);
  assert.ok(workers.every((w) => w.state === 'current' && w.generation === UPGRADES + 1));
  assert.equal(await tel.metric('hotreload.cluster.forced_kills', { 'hotreload.target': 'app-code' }), 0);
  assert.equal(await tel.metric('hotreload.cluster.workers', { 'hotreload.target': 'app-code', 'hotreload.cluster.generation': 'old' }), 0);
  assert.equal(await tel.metric('hotreload.cluster.workers', { 'hotreload.target': 'app-code', 'hotreload.cluster.generation': 'current' }), 2);
});
