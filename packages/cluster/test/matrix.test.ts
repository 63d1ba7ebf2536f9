/**
 * The broken-release matrix, through `reloadscope-cluster` as its README tells a user to run it
 * (`--health /healthz`, telemetry from OTEL_*, upgrades through the documented HTTP trigger so each
 * run's outcome is read back), once with worker telemetry on (every worker runs
 * `--import @reloadscope/register`, whose own endpoint listens before the app's first line) and once
 * with it off. One supervisor per mode serves the good release under keep-alive load and under
 * a new connection per request (curl in a loop) while every broken release is tried in turn.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { alive, children, installClusterPackage, scrape, series, startCli } from './cli-harness.ts';
import { activate, appSource, freePort, load, sleep, tempDir, writeApp } from './harness.ts';

/** An app that listens on the service port only after opening an admin server of its own (on an ephemeral port, answering 200 to anything). */
const withAdminFirst = (name: string, health: number) => `import http from 'node:http';
const admin = http.createServer((req, res) => res.end('admin'));
admin.listen(0, '127.0.0.1', () => {
  http.createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? ${health} : 200;
    res.end('${name}');
  }).listen(Number(process.env.PORT), '127.0.0.1');
});
`;

/** Each broken release and the error.type its upgrade must be refused with. */
const BROKEN: Array<{ name: string; source: string; type: string }> = [
  { name: 'throws-at-import', source: "throw new Error('broken at import');\n", type: 'worker_exited' },
  { name: 'never-listens', source: 'setInterval(() => {}, 1000);\n', type: 'ready_timeout' },
  {
    name: 'listens-elsewhere',
    source: appSource('listens-elsewhere').replace('Number(process.env.PORT)', 'Number(process.env.OTHER_PORT)'),
    type: 'wrong_address',
  },
  { name: 'exits-after-listening', source: appSource('exits-after-listening', "server.on('listening', () => setTimeout(() => process.exit(3), 300));"), type: 'worker_exited' },
  { name: 'fails-health', source: withAdminFirst('fails-health', 503), type: 'health_failed' },
  {
    name: 'hangs-in-ready',
    source: `import { deferReady } from '@reloadscope/cluster/worker';\ndeferReady();\n${appSource('hangs-in-ready')}`,
    type: 'ready_timeout',
  },
];

for (const telemetry of [true, false]) {
  describe(`worker telemetry ${telemetry ? 'on' : 'off'}`, () => {
    test('every broken release is refused with its error.type; the good release answers every request throughout; no worker is left behind', { timeout: 180_000 }, async (t) => {
      const root = await tempDir(t, 'rs-cluster-matrix-');
      await installClusterPackage(root);
      await writeApp(root, 'good', withAdminFirst('good', 200));
      for (const b of BROKEN) await writeApp(root, b.name, b.source);
      await activate(root, 'good');
      const cli = await startCli(t, root, {
        telemetry,
        http: true,
        args: ['--health', '/healthz', '--ready-timeout', '4000'],
        env: { OTHER_PORT: String(await freePort()) },
      });
      const workers = await children(cli.child.pid!);
      assert.equal(workers.length, 2);
      const keepAlive = load(cli.port, 4);
      const fresh = load(cli.port, 2, 120_000, { keepAlive: false });
      t.after(() => Promise.all([keepAlive.stop(), fresh.stop()]));
      await sleep(300);

      const seen: Array<{ name: string; outcome: string; type: string | undefined; version: string | null; workers: number[] }> = [];
      const windows: Array<{ name: string; from: number; until: number }> = [];
      for (const b of BROKEN) {
        await activate(root, b.name);
        const from = performance.now();
        const result = await cli.upgrade();
        windows.push({ name: b.name, from, until: performance.now() });
        seen.push({ name: b.name, outcome: result.outcome, type: result.error?.code, version: result.version, workers: await children(cli.child.pid!) });
        if (result.outcome === 'success') break; // the service is gone now: what follows would say nothing more
      }
      await sleep(300);
      await Promise.all([keepAlive.stop(), fresh.stop()]);

      assert.deepEqual(
        seen,
        BROKEN.map((b) => ({ name: b.name, outcome: 'failure', type: b.type, version: 'good', workers })),
        'each broken release refused with its error.type, the good release still active, only its workers alive',
      );
      for (const [name, traffic] of [['keep-alive', keepAlive], ['a new connection per request', fresh]] as const) {
        const bad = traffic.samples
          .filter((s) => s.error !== undefined || s.status !== 200 || s.body !== 'good')
          .map((s) => ({ ...s, during: windows.find((w) => s.started >= w.from && s.started <= w.until)?.name }));
        assert.deepEqual(bad.slice(0, 5), [], `${name}: ${bad.length} of ${traffic.samples.length} requests failed or were not answered by the good release`);
        assert.ok(traffic.samples.length > 50, `${name}: enough load (${traffic.samples.length})`);
      }
      // One log line per refused upgrade, with its error code.
      for (const b of BROKEN) await cli.waitFor(new RegExp(`^reload app-code: failure \\(http\\) .*${b.type}: .*candidate ${b.name} `));
      if (telemetry) {
        const text = await scrape(cli.metricsPort);
        assert.equal(series(text, 'hotreload_reloads_total', { hotreload_target: 'app-code', hotreload_trigger: 'http', hotreload_outcome: 'failure' }), BROKEN.length);
        assert.equal(series(text, 'hotreload_cluster_workers', { hotreload_target: 'app-code', hotreload_cluster_generation: 'starting' }), 0);
      }
      cli.child.kill('SIGTERM');
      assert.deepEqual(await cli.exited, { code: 0, signal: null });
      assert.deepEqual(workers.filter(alive), [], 'no worker outlives the supervisor');
    });
  });
}
