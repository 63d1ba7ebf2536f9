import assert from 'node:assert/strict';
import { test } from 'node:test';
import { activate, appSource, load, plainApps, sleep, startCluster } from './harness.ts';

/** Each broken release and the error.type its upgrade must end with. */
const BROKEN: Array<{ name: string; source: string; type: string }> = [
  { name: 'throws', source: "throw new Error('broken at import');\n", type: 'worker_exited' },
  { name: 'silent', source: 'setInterval(() => {}, 1000);\n', type: 'ready_timeout' },
  {
    name: 'unhealthy',
    source: "import http from 'node:http';\nhttp.createServer((req, res) => { res.statusCode = req.url === '/healthz' ? 503 : 200; res.end('unhealthy'); }).listen(Number(process.env.PORT), '127.0.0.1');\n",
    type: 'health_failed',
  },
  { name: 'dies', source: appSource('dies', 'setTimeout(() => process.exit(3), 100);'), type: 'worker_exited' },
];

test('broken releases under load fail verify with their error.type; the old release serves throughout; no worker is left behind', { timeout: 90_000 }, async (t) => {
  const apps = { ...plainApps('good'), ...Object.fromEntries(BROKEN.map((b) => [b.name, b.source])) };
  const { root, port, tel, supervisor } = await startCluster(t, apps, { health: '/healthz', readyTimeoutMs: 2000, stabilizeMs: 500 });
  const before = supervisor.workers().map((w) => w.pid);
  const traffic = load(port, 3);
  t.after(() => traffic.stop());

  for (const b of BROKEN) {
    await activate(root, b.name);
    const result = await supervisor.upgrade();
    assert.equal(result.outcome, 'failure', b.name);
    assert.equal(result.error?.code, b.type, `${b.name}: ${result.error?.message}`);
    assert.equal(result.stage, 'verify', b.name);
    assert.equal(result.version, 'good', `${b.name}: the active version stays`);
    // The failed generation is gone: only the original workers are alive.
    assert.deepEqual(supervisor.workers().map((w) => w.pid), before, b.name);
    assert.equal(await tel.metric('hotreload.cluster.workers', { 'hotreload.target': 'app-code', 'hotreload.cluster.generation': 'starting' }), 0);
  }
  await sleep(200);
  await traffic.stop();
  const bad = traffic.samples.filter((s) => s.error !== undefined || s.status !== 200 || s.body !== 'good');
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} of ${traffic.samples.length} requests failed or were not answered by the good release`);
  assert.ok(traffic.samples.length > 50);
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': 'app-code', 'hotreload.trigger': 'api', 'hotreload.outcome': 'failure' }), BROKEN.length);
});
