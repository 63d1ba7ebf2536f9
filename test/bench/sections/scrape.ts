/**
 * Issue 15, scrape: what one `GET /metrics` costs at 1, 10 and 100 targets (100 is core's
 * default `maxTargets`, the cap on how many a process can track). The real endpoint of
 * @reloadscope/register (Prometheus exporter, runtime metrics, node probes), scraped over
 * loopback; every target has been reloaded, so each has its full set of series. Baseline: the
 * same endpoint before any target exists (the runtime metrics alone).
 */
import { DEFAULT_MAX_TARGETS } from '@reloadscope/core';
import { startReloadscope } from '@reloadscope/register/api';
import { runSection, type SectionOptions, type SectionResult } from '../lib/section.ts';
import { formatBytes, formatSummary, type Summary, summarize } from '../lib/stats.ts';

const TARGET_COUNTS = [1, 10, DEFAULT_MAX_TARGETS];

async function scrapeOnce(url: string): Promise<{ ms: number; bytes: number; text: string }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`scrape answered ${res.status}`);
  return { ms, bytes: Buffer.byteLength(text), text };
}

async function scrape(options: SectionOptions): Promise<SectionResult> {
  const rs = startReloadscope({
    env: { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: '0', OTEL_SERVICE_NAME: 'bench-scrape' },
    handleSignals: false,
  });
  const url = await rs.metricsUrl();
  if (!url) throw new Error('the Prometheus endpoint did not start');
  const scrapes = options.quick ? 5 : 40;
  const measure = async () => {
    for (let i = 0; i < 3; i++) await scrapeOnce(url); // warm-up
    const ms: number[] = [];
    let last = { bytes: 0, text: '' };
    for (let i = 0; i < scrapes; i++) {
      const r = await scrapeOnce(url);
      ms.push(r.ms);
      last = r;
    }
    return { ms: summarize(ms), bytes: last.bytes, series: last.text.split('\n').filter((l) => l && !l.startsWith('#')).length, text: last.text };
  };

  const results: Array<{ targets: number; ms: Summary; bytes: number; series: number }> = [];
  const base = await measure();
  results.push({ targets: 0, ms: base.ms, bytes: base.bytes, series: base.series });
  let reloaded = 0;
  for (const n of TARGET_COUNTS) {
    for (; reloaded < n; reloaded++) {
      const r = await rs.instrumentation.reload({ target: `target-${reloaded}` }, { load: () => ({ n: reloaded }), switch: () => undefined, unload: () => {} });
      if (r.outcome !== 'success') throw new Error(`reload of target-${reloaded} ended ${r.outcome}`);
    }
    const m = await measure();
    // Self-check: the scrape really contains every target.
    if (!m.text.includes(`hotreload_target="target-${n - 1}"`)) throw new Error(`the scrape at ${n} targets lacks target-${n - 1}`);
    results.push({ targets: n, ms: m.ms, bytes: m.bytes, series: m.series });
  }
  await rs.shutdown();

  const rows = results.map((r) => ({
    measurement: r.targets === 0 ? 'GET /metrics, no target (runtime metrics only)' : `GET /metrics, ${r.targets} target${r.targets === 1 ? '' : 's'}${r.targets === DEFAULT_MAX_TARGETS ? ' (the maxTargets cap)' : ''}`,
    value: `${formatSummary(r.ms, 2)} ms, ${formatBytes(r.bytes)}, ${r.series} samples`,
    vsBaseline: r.targets === 0 ? 'baseline' : `${(r.ms.median / base.ms.median).toFixed(2)}× time, +${formatBytes(r.bytes - base.bytes)}`,
    note: r.targets === 0 ? '' : `${formatBytes((r.bytes - base.bytes) / r.targets)} and ${((r.series - base.series) / r.targets).toFixed(0)} samples per target`,
  }));
  return {
    id: 'scrape',
    title: '8. Scrape: GET /metrics of @reloadscope/register by number of targets (per scrape, loopback)',
    rows,
    targets: [],
    data: { scrapesPerPoint: scrapes, byTargets: results },
    notes: ['values are median (min–max) over the scrapes at each point; targets are added cumulatively in one process'],
  };
}

runSection(scrape);
