/**
 * Gauges say what is true NOW: the active version, the newest candidate, the served certificate's
 * end, the latest run's handle delta. A series whose state ended must be gone from the next scrape,
 * so these tests scrape the app's own endpoint BETWEEN versions, over time: one scrape at the end
 * sees only the last state and hides a series that never goes away.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashToGauge } from '@reloadscope/core';
import { post, type Sample, scrape, startApp } from './helpers.ts';

const ENV = {
  OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
  OTEL_EXPORTER_PROMETHEUS_PORT: '0',
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_SERVICE_NAME: 'current-series-test',
  RELOADSCOPE_RUNTIME_METRICS: 'false',
};
const EXPIRES_AT_S = Date.UTC(2027, 0, 1) / 1000;

const of = (samples: Sample[], name: string, target: string) =>
  samples.filter((s) => s.name === name && s.labels.hotreload_target === target);

/** What the app should show for one target after a run, kept from the results the app returned. */
class Expected {
  hash: string | undefined;
  version: string | undefined;
  notAfter: number | undefined;
  candidate: { hash: string; error: string } | undefined;

  after(result: Record<string, unknown>, kind: string): void {
    const outcome = String(result.outcome);
    if (outcome === 'success') {
      this.hash = result.hash as string | undefined;
      this.version = result.version as string | undefined;
      this.notAfter = kind === 'expiring' ? EXPIRES_AT_S : undefined;
    }
    // A failed run that identified nothing leaves the newest candidate where it was; a version
    // activated without an identity is newer than any candidate, and unknown.
    if (typeof result.candidateHash === 'string') {
      const ok = outcome === 'success' || outcome === 'unchanged';
      this.candidate = { hash: result.candidateHash, error: ok ? '' : String((result.error as { code: string }).code) };
    } else if (outcome === 'success') {
      this.candidate = undefined;
    }
  }

  check(samples: Sample[], target: string, where: string): void {
    const info = of(samples, 'hotreload_config_info', target).map((s) => [s.labels.hotreload_config_hash, s.labels.hotreload_config_version, s.value]);
    assert.deepEqual(info, this.hash === undefined ? [] : [[this.hash, this.version ?? '', 1]], `${where}: config_info names only the active version`);
    const hash = of(samples, 'hotreload_config_hash', target).map((s) => s.value);
    assert.deepEqual(hash, this.hash === undefined ? [] : [hashToGauge(this.hash)], `${where}: config_hash is the active version's or absent`);
    const candidate = of(samples, 'hotreload_candidate_info', target).map((s) => [s.labels.hotreload_config_hash, s.labels.error_type, s.value]);
    assert.deepEqual(candidate, this.candidate === undefined ? [] : [[this.candidate.hash, this.candidate.error, 1]], `${where}: candidate_info names only the newest candidate`);
    const candidateHash = of(samples, 'hotreload_candidate_hash', target).map((s) => s.value);
    assert.deepEqual(candidateHash, this.candidate === undefined ? [] : [hashToGauge(this.candidate.hash)], `${where}: candidate_hash`);
    const notAfter = of(samples, 'hotreload_tls_not_after_timestamp_seconds', target).map((s) => s.value);
    assert.deepEqual(notAfter, this.notAfter === undefined ? [] : [this.notAfter], `${where}: not_after belongs to the active version only`);
  }
}

test('the app endpoint, scraped after each of 26 versions, names only what is active now', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV);
  const url = app.info.metricsUrl!;
  // Success, refusal after identification, an expiring version, a version without identity, a load
  // that fails before identifying anything: every way the active version and the candidate move.
  const kinds = ['clean', 'refuse', 'expiring', 'refuse', 'clean', 'anonymous', 'fail', 'expiring', 'clean', 'refuse'];
  const expected = new Expected();
  const lines: number[] = [];
  for (let i = 0; i < 26; i++) {
    const kind = kinds[i % kinds.length]!;
    const result = await post(`${app.base}/reload?target=app-config&kind=${kind}`);
    expected.after(result, kind);
    const samples = await scrape(url);
    expected.check(samples, 'app-config', `after version ${i + 1} (${kind}, ${String(result.outcome)})`);
    lines.push(samples.filter((s) => s.name.startsWith('hotreload_')).length);
  }
  // What the endpoint shows does not grow with the number of versions it has seen.
  const cycle = kinds.length;
  assert.equal(lines[25], lines[25 - cycle], `series after version 26 vs ${26 - cycle}: ${lines.join(' ')}`);
});

test('every ReloadInstrumentation on the meter provider reports its current state, not only register\'s', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV);
  const expected = new Expected();
  for (const kind of ['clean', 'refuse', 'clean', 'expiring', 'clean']) {
    expected.after(await post(`${app.base}/reload?target=second-config&kind=${kind}&via=second`), kind);
    expected.check(await scrape(app.info.metricsUrl!), 'second-config', `second instrumentation, ${kind}`);
  }
});

test('hotreload_resources_delta shows the latest run\'s delta: a handle type that left both snapshots leaves the scrape', async (t) => {
  const app = await startApp(t, 'app.mjs', ENV);
  const url = app.info.metricsUrl!;
  const udp = async () => of(await scrape(url), 'hotreload_resources_delta', 'app-config').filter((s) => s.labels.hotreload_resource_type === 'UDPWrap');

  // The probe measures runs that unload a previous version: the first version has none.
  assert.equal((await post(`${app.base}/reload?kind=clean`)).outcome, 'success');
  assert.equal((await post(`${app.base}/reload?kind=open-udp`)).outcome, 'success');
  assert.deepEqual((await udp()).map((s) => s.value), [1], 'the run left one UDP socket behind');
  assert.equal((await post(`${app.base}/reload?kind=clean`)).outcome, 'success');
  assert.deepEqual((await udp()).map((s) => s.value), [0], 'the socket was there before and after: no change');
  assert.equal((await post(`${app.base}/reload?kind=close-udp`)).outcome, 'success');
  assert.deepEqual((await udp()).map((s) => s.value), [-1], 'the run closed it');
  assert.equal((await post(`${app.base}/reload?kind=clean`)).outcome, 'success');
  assert.deepEqual(await udp(), [], 'no UDP socket before or after the latest run: no UDPWrap series');
});
