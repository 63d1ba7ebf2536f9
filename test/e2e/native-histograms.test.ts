/**
 * Pushed metrics end to end: a service started with `node --import @reloadscope/register` and
 * OTEL_METRICS_EXPORTER=otlp + base2_exponential_bucket_histogram -> OTLP/HTTP (protobuf) to the real
 * Collector -> its metrics/otlp pipeline -> prometheus_remote_write -> a real Prometheus run with the
 * flags the pipeline needs (remote-write receiver, native histograms). A per-stage p99 is read with
 * PromQL from the native histogram and compared with the stage durations the reloads reported.
 * Needs the binaries of scripts/setup-stack.sh.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { METRIC_LIST, type ReloadResult } from '@reloadscope/core';
import { freePlan, type PortPlan } from '../../scripts/stack-ports.ts';
import { COLLECTOR_CONFIG, collectorEnv, instrumentedAppEnv, preparePrometheus } from '../../scripts/stack-wiring.ts';
import { TestCA } from '../support/tls-certs.ts';
import { getJson, Harness, type ManagedProcess, stackBinaries } from './harness.ts';

const SERVICE = `reloadscope-push-${randomBytes(3).toString('hex')}`;
const TARGET = 'app-config';
/** Load-stage waits of the scripted reloads, ms: a spread whose top is one reload, so p99 sits near it. */
const LOAD_MS = [...Array.from({ length: 30 }, (_, i) => 20 + 5 * (i % 10)), 400];

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

const harness = new Harness();
const ports = {} as PortPlan;
const processes: ManagedProcess[] = [];
const results: ReloadResult[] = [];

const step = <T>(fn: () => Promise<T>): Promise<T> => harness.step(fn);
const promUrl = () => `http://127.0.0.1:${ports.prometheus}`;
const serviceUrl = () => `http://127.0.0.1:${ports.service}`;

async function promQuery(expr: string): Promise<PromSample[]> {
  const body = await getJson<{ status: string; data: { result: PromSample[] } }>(`${promUrl()}/api/v1/query?query=${encodeURIComponent(expr)}`);
  assert.equal(body.status, 'success');
  return body.data.result;
}

function promEventually(what: string, expr: string, accept: (r: PromSample[]) => boolean, timeoutMs = 60_000) {
  return harness.waitFor(
    what,
    async () => {
      const r = await promQuery(expr);
      return accept(r) ? r : undefined;
    },
    processes,
    { timeoutMs, intervalMs: 500 },
  );
}

async function reload(scenario: string, loadMs = 0): Promise<ReloadResult> {
  const res = await fetch(`${serviceUrl()}/reload/${scenario}?target=${TARGET}&loadMs=${loadMs}`, { method: 'POST' });
  assert.equal(res.status, 200, `reload ${scenario}`);
  return (await res.json()) as ReloadResult;
}

/** The buckets of one stage's native histogram (successful runs), as a lookup: value -> [lower, upper] edge. */
async function nativeBuckets(stage: string): Promise<(v: number) => readonly [number, number]> {
  const expr = `hotreload_stage_duration_seconds{job="${SERVICE}",hotreload_target="${TARGET}",hotreload_stage="${stage}",hotreload_outcome="success"}`;
  const raw = await getJson<{ data: { result: Array<{ histogram: [number, { buckets: Array<[number, string, string, string]> }] }> } }>(
    `${promUrl()}/api/v1/query?query=${encodeURIComponent(expr)}`,
  );
  const buckets = raw.data.result[0]!.histogram[1].buckets.map(([, lo, hi]) => [Number(lo), Number(hi)] as const);
  return (v) => {
    const bucket = buckets.find(([lo, hi]) => v >= lo && v <= hi);
    assert.ok(bucket, `${stage}: ${v} s is in no bucket of ${JSON.stringify(buckets)}`);
    return bucket;
  };
}

/** Durations in seconds of one stage across the results, sorted. */
function stageSeconds(stage: string): number[] {
  return results
    .flatMap((r) => r.stages.filter((s) => s.stage === stage && s.outcome === 'success').map((s) => s.durationMs / 1000))
    .sort((a, b) => a - b);
}

describe('pushed metrics: service -> OTLP -> Collector -> remote write -> Prometheus native histograms', { timeout: 240_000 }, () => {
  const sel = () => `job="${SERVICE}",hotreload_target="${TARGET}"`;

  before(
    () =>
      step(async () => {
        const bin = stackBinaries('otelcol', 'prometheus');
        Object.assign(ports, await freePlan());
        const collector = harness.start('otelcol', bin.otelcol, [`--config=${COLLECTOR_CONFIG}`], {
          // The scrape job finds no endpoint (the app only pushes); its `up` is 0 and nothing else.
          env: { ...process.env, ...collectorEnv(ports, { job: `${SERVICE}-scrape`, scrapeInterval: '1s', batchTimeout: '200ms' }) },
        });
        const prometheus = harness.start(
          'prometheus',
          bin.prometheus,
          preparePrometheus(join(harness.dir, 'prometheus'), ports, { scrapeInterval: '1s', global: { scrape_interval: '1s', evaluation_interval: '1s' } }),
        );
        const tlsDir = join(harness.dir, 'tls');
        const served = await (await TestCA.create(join(tlsDir, 'ca'))).issue();
        writeFileSync(join(tlsDir, 'tls.crt'), served.cert);
        writeFileSync(join(tlsDir, 'tls.key'), served.key);
        const service = harness.start(
          'service',
          process.execPath,
          ['--import', '@reloadscope/register', join(import.meta.dirname, 'fixtures', 'service.ts')],
          {
            env: {
              ...process.env,
              ...instrumentedAppEnv(ports, SERVICE),
              FIXTURE_PORT: String(ports.service),
              FIXTURE_TLS_DIR: tlsDir,
              OTEL_TRACES_EXPORTER: 'none',
              OTEL_METRICS_EXPORTER: 'otlp',
              OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
              OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram',
              OTEL_METRIC_EXPORT_INTERVAL: '1000',
            },
          },
        );
        processes.push(collector, prometheus, service);
        await harness.waitForHttp('Collector health_check', `http://127.0.0.1:${ports.collectorHealth}/`, processes);
        await harness.waitForHttp('Prometheus ready', `${promUrl()}/-/ready`, processes);
        await harness.waitForHttp('service', `${serviceUrl()}/healthz`, processes);

        // rate() counts what arrived after the first sample of its window: let the startup load land first.
        await promEventually('the first pushed histogram', `histogram_count(hotreload_stage_duration_seconds{${sel()},hotreload_stage="load"})`, (r) => r.length === 1);
        for (const ms of LOAD_MS) results.push(await reload('success', ms));
        results.push(await reload('failure'));
        const loads = results.length + 1; // the scripted runs and the startup load
        await promEventually(
          'every scripted reload in Prometheus',
          `sum(histogram_count(hotreload_stage_duration_seconds{${sel()},hotreload_stage="load"}))`,
          (r) => r.length === 1 && Number(r[0]!.value[1]) === loads,
        );
      }),
    { timeout: 180_000 },
  );

  after(() => harness.close());

  test('every stage histogram is ONE native-histogram series per label set; no classic _bucket series exist on this path', () =>
    step(async () => {
      assert.deepEqual(await promQuery(`{__name__=~"hotreload_.*_bucket",job="${SERVICE}"}`), [], 'no classic bucket series');
      const stages = await promQuery(`hotreload_stage_duration_seconds{${sel()}}`);
      const labelSets = stages.map((s) => `${s.metric.hotreload_stage}/${s.metric.hotreload_outcome}`).sort();
      assert.deepEqual(labelSets, ['load/success', 'switch/success', 'unload/success', 'verify/failure', 'verify/success']);
      // A native histogram answers histogram_count/sum; a float series would not.
      const count = await promQuery(`histogram_count(hotreload_stage_duration_seconds{${sel()},hotreload_stage="verify",hotreload_outcome="failure"})`);
      assert.equal(Number(count[0]!.value[1]), 1);
      const sum = await promQuery(`sum(histogram_sum(hotreload_stage_duration_seconds{${sel()},hotreload_stage="load"}))`);
      const reported = results.flatMap((r) => r.stages.filter((s) => s.stage === 'load').map((s) => s.durationMs / 1000)).reduce((a, b) => a + b, 0);
      // The startup load is in the sum too: a few ms at most on top of what the scripted runs reported.
      assert.ok(Number(sum[0]!.value[1]) >= reported && Number(sum[0]!.value[1]) < reported + 1, `sum ${sum[0]!.value[1]} vs reported ${reported}`);
      // job and instance come from the resource: service.name and register's per-process service.instance.id.
      assert.ok(stages.every((s) => s.metric.job === SERVICE));
      assert.match(stages[0]!.metric.instance ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }));

  test('a per-stage p99 read with PromQL from the native histogram matches the durations the reloads reported', () =>
    step(async () => {
      const p99 = await promQuery(
        `histogram_quantile(0.99, sum by (hotreload_stage) (rate(hotreload_stage_duration_seconds{job="${SERVICE}",hotreload_outcome="success"}[5m])))`,
      );
      const byStage = new Map(p99.map((s) => [s.metric.hotreload_stage!, Number(s.value[1])]));
      assert.deepEqual([...byStage.keys()].sort(), ['load', 'switch', 'unload', 'verify']);
      const load = stageSeconds('load');
      assert.equal(load.length, LOAD_MS.length + 1, 'the scripted successes and the failed run, which failed later, in verify');
      // 32 observations: the 99th percentile lies between the two largest. A native histogram knows
      // each observation to within its bucket (the SDK picks the finest scale that fits its 160
      // buckets, the Collector caps it at Prometheus' schema 8), so the estimate must lie between
      // the lower edge of the second-largest one's bucket and the upper edge of the largest one's.
      const estimate = byStage.get('load')!;
      const [second, first] = [load.at(-2)!, load.at(-1)!];
      const bucketOf = await nativeBuckets('load');
      const [low] = bucketOf(second);
      const [top, high] = bucketOf(first);
      const widthPct = (high / top - 1) * 100;
      console.log(
        `load p99 from the native histogram: ${estimate.toFixed(4)} s; largest load stages reported: ${second.toFixed(4)}, ` +
          `${first.toFixed(4)} s; bucket of the largest [${top.toFixed(4)}, ${high.toFixed(4)}] s (${widthPct.toFixed(2)} % wide)`,
      );
      assert.ok(estimate >= low && estimate <= high, `p99 ${estimate} s not within [${low}, ${high}] s`);
      // The SDK's 160 buckets span these loads (sub-millisecond to 0.4 s, about 12 octaves) at scale 3
      // or finer: 8 buckets per octave, 9.05 % wide, as fine as Prometheus' own default native histograms.
      assert.ok(widthPct <= 9.06, `buckets ${widthPct} % wide: the exponential histogram lost resolution on the way`);
      assert.ok(estimate > 0.3, 'the one 400 ms load dominates the tail, as a p99 of 32 should show');
      // The fast stages (microseconds): the same bound, from their own observations and buckets.
      for (const stage of ['verify', 'switch', 'unload']) {
        const seen = stageSeconds(stage);
        const q = byStage.get(stage)!;
        const of = await nativeBuckets(stage);
        const [lo, hi] = [of(seen.at(-2)!)[0], of(seen.at(-1)!)[1]];
        assert.ok(q >= lo && q <= hi, `${stage} p99 ${q} s outside [${lo}, ${hi}] s`);
      }
    }));

  test('the names on the far side are the contract\'s Prometheus names', () =>
    step(async () => {
      const body = await getJson<{ data: string[] }>(`${promUrl()}/api/v1/label/__name__/values?match[]=${encodeURIComponent(`{job="${SERVICE}"}`)}`);
      const pushed = body.data.filter((n) => n.startsWith('hotreload_')).sort();
      // Histograms keep their base name (one native series); counters get _total; gauges as they are.
      // Config- and cluster-owned series exist only in apps that prune bundles or run a supervisor.
      const expected = METRIC_LIST.filter((d) => d.owner === 'core' || d.owner === 'node')
        .map((d) => (d.kind === 'Counter' ? `${d.prometheus}_total` : d.prometheus))
        .sort();
      assert.deepEqual(pushed, expected);
      const [failures] = await promQuery(`hotreload_reloads_total{${sel()},hotreload_trigger="api",hotreload_outcome="failure"}`);
      assert.equal(Number(failures!.value[1]), 1);
      const [generation] = await promQuery(`hotreload_generation{${sel()}}`);
      assert.equal(Number(generation!.value[1]), 1 + LOAD_MS.length, 'the startup load and every successful run');
    }));
});
