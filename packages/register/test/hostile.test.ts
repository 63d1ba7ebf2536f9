import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { exchange, hostileRequests, trickle, wellFormed } from '../../../test/support/raw-http.ts';
import { assertSurvivesSlowLoris } from '../../../test/support/slow-loris.ts';
import { startApp } from './helpers.ts';

const ENV = {
  OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
  OTEL_EXPORTER_PROMETHEUS_PORT: '0',
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_SERVICE_NAME: 'hostile-test',
};

const scrapeRequest = 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

test('the metrics endpoint: GET and HEAD of /metrics only, and no request-target can end the application', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV);
  const port = Number(new URL(app.info.metricsUrl!).port);
  const answer = async (raw: string) => (await exchange(port, raw, { end: false })).statuses;
  // These two threw inside the request handler and killed the process.
  assert.deepEqual(await answer('GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n'), [400]);
  assert.deepEqual(await answer('GET // HTTP/1.1\r\nHost: x\r\n\r\n'), [404]);
  assert.deepEqual(await answer('GET * HTTP/1.1\r\nHost: x\r\n\r\n'), [400]);
  assert.deepEqual(await answer('GET /other HTTP/1.1\r\nHost: x\r\n\r\n'), [404]);
  const post = await exchange(port, 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc', { end: false });
  assert.deepEqual(post.statuses, [405]);
  assert.match(post.data.toString('latin1'), /\r\nallow: GET, HEAD\r\n/i);
  const head = await exchange(port, 'HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { end: false });
  assert.deepEqual(head.statuses, [200]);
  assert.ok(head.data.toString('latin1').endsWith('\r\n\r\n'), 'HEAD has no body');
  const scrape = await exchange(port, scrapeRequest.replace('/metrics', 'http://any/metrics?x=1'), { end: false });
  assert.deepEqual(scrape.statuses, [200], 'absolute-form with a query is the same scrape');
  assert.match(scrape.data.toString('utf8'), /\ntarget_info{service_name="hostile-test"/);
  assert.equal(app.child.exitCode, null, 'the application is alive');
});

test('fuzz: hostile requests to the metrics endpoint; each is answered or closed, and /metrics still answers after it', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV);
  const port = Number(new URL(app.info.metricsUrl!).port);
  await fc.assert(
    fc.asyncProperty(hostileRequests('/metrics', 'no-token-here'), async (raw) => {
      const x = await exchange(port, raw);
      const shown = JSON.stringify(raw.toString('latin1').slice(0, 200));
      assert.ok(x.closed, `hang on ${shown}`);
      assert.ok(wellFormed(x), `malformed answer to ${shown}: ${JSON.stringify(x.data.toString('latin1').slice(0, 200))}`);
      assert.ok(x.statuses.every((s) => s < 500), `server error ${x.statuses} for ${shown}`);
      assert.deepEqual((await exchange(port, scrapeRequest, { end: false })).statuses, [200], `no scrape after ${shown}`);
    }),
    { seed: 1115, numRuns: 150 },
  );
  assert.equal(app.child.exitCode, null, `the application is alive; stderr:\n${app.stderr()}`);
  assert.doesNotMatch(app.stderr(), /Error|uncaught/i);
});

test('slow loris: the metrics endpoint cuts off headers that never end after 10 s', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV);
  const slow = await trickle(Number(new URL(app.info.metricsUrl!).port));
  assert.ok(slow.closedAfterMs !== undefined, 'the server closed the connection (Node alone waits 60 s, checked every 30 s)');
  assert.ok(slow.closedAfterMs >= 9_000 && slow.closedAfterMs < 15_000, `closed after ${slow.closedAfterMs} ms`);
  assert.match(slow.data.toString('latin1'), /^HTTP\/1\.1 408 /);
});

test('slow loris crowd: 32 silent connections, re-opened as they are closed, never keep a scrape out, and each is cut at the 10 s header limit', { timeout: 90_000 }, async (t) => {
  const app = await startApp(t, 'app.mjs', ENV);
  const port = Number(new URL(app.info.metricsUrl!).port);
  await assertSurvivesSlowLoris({
    port,
    maxConnections: 32,
    headersTimeoutMs: 10_000,
    request: async () => (await exchange(port, scrapeRequest, { end: false, timeoutMs: 5000 })).statuses[0],
  });
  assert.equal(app.child.exitCode, null, 'the application is alive');
});
