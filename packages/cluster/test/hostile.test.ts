import { test } from 'node:test';
import { assertSurvivesSlowLoris } from '../../../test/support/slow-loris.ts';
import { get, plainApps, startCluster } from './harness.ts';

test('slow loris crowd on the instance /metrics: 32 silent connections, re-opened as they are closed, never keep a scrape out, and each is cut at the 10 s header limit', { timeout: 90_000 }, async (t) => {
  const { supervisor } = await startCluster(t, plainApps('a'), { workerTelemetry: true, metrics: { host: '127.0.0.1', port: 0 } });
  const url = new URL((await supervisor.metricsUrl())!);
  const port = Number(url.port);
  await assertSurvivesSlowLoris({
    port,
    maxConnections: 32,
    headersTimeoutMs: 10_000,
    request: async () => {
      const scrape = await get(port, url.pathname, false, 5000);
      // A real scrape: every worker's telemetry is in it, not just an empty 200.
      return scrape.body?.includes('hotreload_cluster_worker="1"') ? scrape.status : undefined;
    },
  });
});
