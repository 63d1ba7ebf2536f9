/**
 * End to end through the real pipeline: a service started with `node --import @reloadscope/register`
 * -> OTLP traces to the Collector -> Jaeger v2; the Collector scrapes the service's Prometheus endpoint
 * -> its prometheus exporter -> a Prometheus server that evaluates the bundled alert rules.
 * Everything runs on free loopback ports; logs of every process are printed when a step fails.
 * Needs the binaries of scripts/setup-stack.sh.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { hashToGauge, METRIC_LIST, prometheusSeries, type ReloadResult } from '@reloadscope/core';
import { parse } from 'yaml';
import { type Issued, TestCA } from '../support/tls-certs.ts';
import { dashboardExpressions, dashboardVariables, resolveGrafanaVariables } from './dashboard.ts';
import { freePlan, type PortPlan } from '../../scripts/stack-ports.ts';
import {
  COLLECTOR_CONFIG,
  collectorEnv,
  instrumentedAppEnv,
  JAEGER_CONFIG,
  jaegerEnv,
  preparePrometheus,
} from '../../scripts/stack-wiring.ts';
import {
  COLLECTOR_DIR,
  exposedNames,
  getJson,
  getText,
  Harness,
  type ManagedProcess,
  REPO_ROOT,
  stackBinaries,
} from './harness.ts';

const SERVICE = `reloadscope-e2e-${randomBytes(3).toString('hex')}`;
const TARGET = 'app-config';
const FLAKY = 'flaky-config';
const HEALTHY_SCENARIOS = ['success', 'unchanged', 'failure', 'timeout', 'rollback', 'success'] as const;

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

const harness = new Harness();
const ports = {} as PortPlan;
const processes: ManagedProcess[] = [];
const results: ReloadResult[] = [];
/** The certificate the fixture's TLS server was started with. */
let served: Issued;
let testStartSec = 0;

const step = <T>(fn: () => Promise<T>): Promise<T> => harness.step(fn);

const promUrl = () => `http://127.0.0.1:${ports.prometheus}`;
const jaegerUrl = () => `http://127.0.0.1:${ports.jaegerQuery}`;
const serviceUrl = () => `http://127.0.0.1:${ports.service}`;

async function promQuery(expr: string): Promise<PromSample[]> {
  const body = await getJson<{ status: string; data: { resultType: string; result: PromSample[] } }>(
    `${promUrl()}/api/v1/query?query=${encodeURIComponent(expr)}`,
  );
  assert.equal(body.status, 'success');
  return body.data.result;
}

/** Polls a PromQL query until `accept` holds for its result; returns that result. */
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

async function reload(scenario: string, target = TARGET): Promise<ReloadResult> {
  const res = await fetch(`${serviceUrl()}/reload/${scenario}?target=${target}`, { method: 'POST' });
  assert.equal(res.status, 200, `reload ${scenario}`);
  return (await res.json()) as ReloadResult;
}

describe('telemetry pipeline: service -> Collector -> Jaeger v2 / Prometheus', { timeout: 240_000 }, () => {
  before(
    () =>
      step(async () => {
        const bin = stackBinaries();
        Object.assign(ports, await freePlan());
        testStartSec = Math.floor(Date.now() / 1000);

        const jaeger = harness.start('jaeger', bin.jaeger, [`--config=${JAEGER_CONFIG}`], {
          env: { ...process.env, ...jaegerEnv(ports) },
        });
        const collector = harness.start('otelcol', bin.otelcol, [`--config=${COLLECTOR_CONFIG}`], {
          env: { ...process.env, ...collectorEnv(ports, { job: SERVICE, scrapeInterval: '1s', batchTimeout: '200ms' }) },
        });
        const tlsDir = join(harness.dir, 'tls');
        served = await (await TestCA.create(join(tlsDir, 'ca'))).issue();
        writeFileSync(join(tlsDir, 'tls.crt'), served.cert);
        writeFileSync(join(tlsDir, 'tls.key'), served.key);
        // The shipped prometheus.yml with loopback targets, a 1 s scrape and evaluation interval, the shipped rules.
        const prometheus = harness.start(
          'prometheus',
          bin.prometheus,
          preparePrometheus(join(harness.dir, 'prometheus'), ports, {
            scrapeInterval: '1s',
            global: { scrape_interval: '1s', evaluation_interval: '1s' },
          }),
        );
        const service = harness.start(
          'service',
          process.execPath,
          ['--import', '@reloadscope/register', join(import.meta.dirname, 'fixtures', 'service.ts')],
          {
            env: { ...process.env, ...instrumentedAppEnv(ports, SERVICE), FIXTURE_PORT: String(ports.service), FIXTURE_TLS_DIR: tlsDir },
          },
        );
        processes.push(jaeger, collector, prometheus, service);

        await harness.waitForHttp('Jaeger query API', `${jaegerUrl()}/api/v3/services`, processes);
        await harness.waitForHttp('Collector health_check', `http://127.0.0.1:${ports.collectorHealth}/`, processes);
        await harness.waitForHttp('Prometheus ready', `${promUrl()}/-/ready`, processes);
        await harness.waitForHttp('service', `${serviceUrl()}/healthz`, processes);

        for (const scenario of HEALTHY_SCENARIOS) results.push(await reload(scenario));
        await fetch(`${serviceUrl()}/flush`, { method: 'POST' });
      }),
    { timeout: 180_000 },
  );

  after(() => harness.close());

  test('the scripted reloads end in the five outcomes', () =>
    step(async () => {
      assert.deepEqual(
        results.map((r) => r.outcome),
        ['success', 'unchanged', 'failure', 'timeout', 'rollback', 'success'],
      );
      for (const r of results) assert.match(r.traceId ?? '', /^[0-9a-f]{32}$/);
    }));

  test('Jaeger returns the traces: hotreload root, four stage children in order, ERROR + exception on the failed stage', () =>
    step(async () => {
      interface OtlpSpan {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        startTimeUnixNano: string;
        status?: { code?: number | string; message?: string };
        events?: Array<{ name: string; attributes?: Array<{ key: string }> }>;
        attributes?: Array<{ key: string; value: Record<string, unknown> }>;
      }
      interface OtlpTraces {
        result: {
          resourceSpans: Array<{
            resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
            scopeSpans: Array<{ spans: OtlpSpan[] }>;
          }>;
        };
      }
      const spansOf = (body: OtlpTraces) => body.result.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
      const fetchTrace = (traceId: string) =>
        harness.waitFor(
          `trace ${traceId} in Jaeger`,
          async () => {
            const res = await fetch(`${jaegerUrl()}/api/v3/traces/${traceId}`);
            if (res.status !== 200) return undefined;
            return (await res.json()) as OtlpTraces;
          },
          processes,
          { timeoutMs: 60_000, intervalMs: 500 },
        );
      const isError = (s: OtlpSpan) => s.status?.code === 2 || s.status?.code === 'STATUS_CODE_ERROR';
      const attr = (s: OtlpSpan, key: string) => s.attributes?.find((a) => a.key === key)?.value;

      // The search endpoint lists the service's traces (needs the service and a time range).
      const now = new Date();
      const search = await harness.waitFor(
        'the service in Jaeger search',
        async () => {
          const q = new URLSearchParams({
            'query.service_name': SERVICE,
            'query.start_time_min': new Date(testStartSec * 1000 - 60_000).toISOString(),
            'query.start_time_max': new Date(now.getTime() + 60_000).toISOString(),
            'query.num_traces': '50',
          });
          const res = await fetch(`${jaegerUrl()}/api/v3/traces?${q}`);
          if (res.status !== 200) return undefined;
          const body = (await res.json()) as OtlpTraces;
          const ids = new Set(spansOf(body).map((s) => s.traceId));
          return results.every((r) => ids.has(r.traceId!)) ? body : undefined;
        },
        processes,
      );
      const serviceNames = new Set(
        search.result.resourceSpans.map((rs) => rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue),
      );
      assert.deepEqual([...serviceNames], [SERVICE]);

      // A successful run: root + load, verify, switch, unload in order, all children of the root.
      const success = results[0]!;
      const spans = spansOf(await fetchTrace(success.traceId!));
      const root = spans.find((s) => s.name === 'hotreload');
      assert.ok(root, `no hotreload root span in ${spans.map((s) => s.name)}`);
      assert.equal(root.spanId, success.spanId);
      assert.ok(!root.parentSpanId, 'the hotreload span is a root here');
      const children = spans
        .filter((s) => s !== root)
        .sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1));
      assert.deepEqual(
        children.map((s) => s.name),
        ['hotreload.load', 'hotreload.verify', 'hotreload.switch', 'hotreload.unload'],
      );
      for (const child of children) {
        assert.equal(child.parentSpanId, root.spanId, `${child.name} parent`);
        assert.equal(child.traceId, root.traceId);
        assert.ok(!isError(child), `${child.name} should not be an error`);
      }
      assert.equal(attr(root, 'hotreload.outcome')?.stringValue, 'success');
      assert.equal(attr(root, 'hotreload.target')?.stringValue, TARGET);

      // The failed run: verify is ERROR with an exception event, the root says failure.
      const failure = results[2]!;
      const failedSpans = spansOf(await fetchTrace(failure.traceId!));
      const failedRoot = failedSpans.find((s) => s.name === 'hotreload')!;
      const verify = failedSpans.find((s) => s.name === 'hotreload.verify');
      assert.ok(verify, 'verify span of the failed run');
      assert.equal(verify.parentSpanId, failedRoot.spanId);
      assert.ok(isError(verify), `verify status ${JSON.stringify(verify.status)}`);
      assert.ok(
        verify.events?.some((e) => e.name === 'exception'),
        `exception event on verify: ${JSON.stringify(verify.events)}`,
      );
      assert.equal(attr(failedRoot, 'hotreload.outcome')?.stringValue, 'failure');
      assert.equal(attr(failedRoot, 'error.type')?.stringValue, 'schema_invalid');
      assert.ok(!failedSpans.some((s) => s.name === 'hotreload.switch'), 'nothing switched after a failed verify');

      // The rolled-back run has a rollback span.
      const rolled = spansOf(await fetchTrace(results[4]!.traceId!));
      assert.ok(rolled.some((s) => s.name === 'hotreload.rollback'));
      assert.ok(isError(rolled.find((s) => s.name === 'hotreload.switch')!));

      // Generation stamp: every span carries the generations that served it, in one attribute, and
      // Jaeger's tag search finds the runs by it (the register README's query). The last run started
      // while app-config was at generation 2 (startup 1, the first success 2; nothing else switched)
      // and the TLS target at 1; the first run started at generation 1.
      const stamp = 'app-config=2;tls=1';
      assert.equal(attr(root, 'hotreload.generations')?.stringValue, 'app-config=1;tls=1');
      const tagged = await getJson<{ data: Array<{ traceID: string }> }>(
        `${jaegerUrl()}/api/traces?${new URLSearchParams({ service: SERVICE, limit: '50', lookback: '1h', tags: JSON.stringify({ 'hotreload.generations': stamp }) })}`,
      );
      const found = new Set(tagged.data.map((t) => t.traceID));
      assert.ok(found.has(results.at(-1)!.traceId!), `the last run is found by ${stamp}`);
      assert.ok(!found.has(results[0]!.traceId!), 'the first run, served by generation 1, is not');

      // No config content anywhere in the exported spans.
      const everything = JSON.stringify(search);
      assert.doesNotMatch(everything, /s3cr3t|greeting: hello/);
    }));

  test('npm run reloads draws every run from this Jaeger: outcome, error.type, one bar per stage, the failed one marked', () =>
    step(async () => {
      const view = () =>
        promisify(execFile)(process.execPath, [join(REPO_ROOT, 'scripts', 'reloads.ts'), '--jaeger', jaegerUrl(), '--service', SERVICE, '--limit', '20', '--since', '10m']);
      const lines = await harness.waitFor(
        'every scripted run in the terminal view',
        async () => {
          const out = (await view()).stdout.split('\n');
          return results.every((r) => out.some((l) => l.endsWith(`trace ${r.traceId}`))) ? out : undefined;
        },
        processes,
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      for (const r of results) {
        const head = lines.findIndex((l) => l.endsWith(`trace ${r.traceId}`));
        const words = lines[head]!.split(/\s+/);
        assert.equal(words[2], TARGET, lines[head]);
        assert.equal(words[3], r.trigger, lines[head]);
        assert.equal(words[4], r.outcome, lines[head]);
        if (r.error) assert.equal(words[5], r.error.code, lines[head]);
        const rows = lines.slice(head + 1, head + 1 + r.stages.length);
        assert.deepEqual(
          rows.map((l) => /^ {4}(\w+) /.exec(l)?.[1]),
          r.stages.map((s) => s.stage),
          `stages of the ${r.outcome} run:\n${rows.join('\n')}`,
        );
        r.stages.forEach((s, i) => {
          assert.match(rows[i]!, /│[ █]*█[ █]*│ +[\d.]+ms/, 'a bar and a duration');
          assert.equal(rows[i]!.includes('✗'), s.outcome !== 'success', `${r.outcome} run, ${s.stage}: ${rows[i]}`);
        });
      }
    }));

  test('Prometheus via the Collector has every catalogue series, with the values of the run, under the app\'s own names', () =>
    step(async () => {
      const sel = `job="${SERVICE}",hotreload_target="${TARGET}"`;
      const last = results.at(-1)!;
      // Wait until the final state has travelled app -> Collector -> Prometheus.
      await promEventually(
        'the final generation in Prometheus',
        `hotreload_generation{${sel}}`,
        (r) => r.length === 1 && Number(r[0]!.value[1]) === last.generation,
      );

      // Same hotreload_* names on the app's endpoint, the Collector's exporter and in Prometheus.
      // The Collector lags the app by up to one scrape: compare once both show the same state.
      const scrapeOwn = (n: string) => n === 'up' || n.startsWith('scrape_');
      const snapshot = async () => {
        const appText = await getText(`http://127.0.0.1:${ports.appMetrics}/metrics`);
        const collectorText = await getText(`http://127.0.0.1:${ports.collectorProm}/metrics`);
        return {
          direct: exposedNames(appText, 'hotreload_'),
          viaCollector: exposedNames(collectorText, 'hotreload_'),
          allDirect: [...exposedNames(appText, '')].sort(),
          allViaCollector: [...exposedNames(collectorText, '')].filter((n) => !scrapeOwn(n)).sort(),
        };
      };
      let names = await snapshot();
      await harness
        .waitFor(
          'the Collector to show the app\'s metric names',
          async () => {
            names = await snapshot();
            return names.allDirect.join() === names.allViaCollector.join() ? true : undefined;
          },
          processes,
          { timeoutMs: 20_000, intervalMs: 500 },
        )
        .catch(() => {}); // the assertions below report the difference
      const { direct, viaCollector } = names;
      assert.deepEqual([...viaCollector].sort(), [...direct].sort(), 'Collector re-emits exactly the app\'s names');
      // Not only ours: every series of the app (runtime metrics too) keeps its name; the Collector only
      // adds its scrape bookkeeping (up, scrape_*).
      assert.deepEqual(names.allViaCollector, names.allDirect);
      const inProm = (await getJson<{ data: string[] }>(`${promUrl()}/api/v1/label/__name__/values`)).data.filter((n) =>
        n.startsWith('hotreload_'),
      );
      assert.deepEqual(inProm.sort(), [...direct].sort(), 'Prometheus stores exactly the app\'s names');
      // Config-owned series exist only in a process running the HTTP trigger or activating bundles; this service does neither.
      // Cluster-owned series exist only in a @reloadscope/cluster supervisor.
      for (const def of METRIC_LIST.filter((d) => d.owner !== 'config' && d.owner !== 'cluster')) {
        for (const name of prometheusSeries(def)) {
          assert.ok(direct.has(name), `catalogue series ${name} missing (app exposes ${[...direct].sort()})`);
        }
      }

      // Labels as the rules expect them.
      const [sample] = await promQuery(`hotreload_generation{${sel}}`);
      assert.equal(sample!.metric.instance, `127.0.0.1:${ports.appMetrics}`);

      const value = async (expr: string) => {
        const r = await promQuery(expr);
        assert.equal(r.length, 1, `${expr} -> ${JSON.stringify(r)}`);
        return Number(r[0]!.value[1]);
      };
      const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
      // Outcome counters: startup success + the scripted runs.
      assert.equal(await value(`sum(hotreload_reloads_total{${sel},hotreload_outcome="success"})`), 1 + count('success'));
      for (const outcome of ['unchanged', 'failure', 'timeout', 'rollback']) {
        assert.equal(await value(`sum(hotreload_reloads_total{${sel},hotreload_outcome="${outcome}"})`), count(outcome), outcome);
        assert.equal(
          await value(`sum(hotreload_duration_seconds_count{${sel},hotreload_outcome="${outcome}"})`),
          count(outcome),
          `duration count ${outcome}`,
        );
      }
      // Trigger label: the startup load is counted apart from the api-triggered runs.
      assert.equal(await value(`hotreload_reloads_total{${sel},hotreload_trigger="startup",hotreload_outcome="success"}`), 1);
      // The timeout run took at least its 300 ms deadline: only buckets >= 0.25 s count it.
      assert.equal(await value(`sum(hotreload_duration_seconds_bucket{${sel},hotreload_outcome="timeout",le="0.25"})`), 0);
      assert.equal(await value(`sum(hotreload_duration_seconds_bucket{${sel},hotreload_outcome="timeout",le="0.5"})`), 1);
      // Stage histograms: every success ran load..unload; the failure stopped at verify.
      assert.equal(
        await value(`sum(hotreload_stage_duration_seconds_count{${sel},hotreload_stage="unload"})`),
        count('success') + 1,
      );
      assert.equal(
        await value(`sum(hotreload_stage_duration_seconds_count{${sel},hotreload_stage="verify",hotreload_outcome="failure"})`),
        1,
      );
      assert.equal(await value(`sum(hotreload_stage_duration_seconds_count{${sel},hotreload_stage="rollback"})`), 1);
      // Active-version gauges: hash of the ACTIVE version (48 bits), full hex on the info series.
      assert.equal(await value(`hotreload_config_hash{${sel}}`), hashToGauge(last.hash!));
      const info = await promQuery(`hotreload_config_info{${sel}}`);
      assert.equal(info.length, 1);
      assert.equal(info[0]!.metric.hotreload_config_hash, last.hash);
      assert.equal(info[0]!.metric.hotreload_config_version, last.version);
      assert.equal(info[0]!.value[1], '1');
      assert.equal(await value(`hotreload_generation{${sel}}`), 3);
      assert.equal(await value(`hotreload_last_reload_success{${sel}}`), 1);
      assert.equal(await value(`hotreload_consecutive_failures{${sel}}`), 0);
      assert.equal(await value(`hotreload_in_progress{${sel}}`), 0);
      assert.equal(await value(`hotreload_pending{${sel}}`), 0);
      const lastSuccess = await value(`hotreload_last_success_timestamp_seconds{${sel}}`);
      assert.ok(lastSuccess >= testStartSec && lastSuccess <= Date.now() / 1000 + 1, `last success ${lastSuccess}`);
      // Node probes.
      assert.ok((await value(`sum(hotreload_heap_delta_bytes_count{${sel}})`)) >= 1);
      assert.ok((await value(`sum(hotreload_eventloop_blocked_seconds_count{${sel}})`)) >= 1);
      assert.ok((await value(`hotreload_retained_versions{${sel}}`)) >= 0);
      // The newest candidate is the active version once the last run succeeded.
      assert.equal(await value(`hotreload_candidate_hash{${sel}}`), hashToGauge(last.hash!));
      const candidate = await promQuery(`hotreload_candidate_info{${sel}}`);
      assert.equal(candidate.length, 1);
      assert.equal(candidate[0]!.metric.hotreload_config_hash, last.hash);
      assert.equal(candidate[0]!.metric.error_type, undefined);
      // The served certificate's expiry, through the Collector.
      assert.equal(await value(`hotreload_tls_not_after_timestamp_seconds{job="${SERVICE}",hotreload_target="tls"}`), served.notAfter.getTime() / 1000);
      assert.ok((await promQuery(`hotreload_resources_delta{${sel}}`)).length >= 1);
    }));

  test('version by version, Prometheus through the Collector holds one config_info and one candidate_info per instance and target', () =>
    step(async () => {
      // A target of its own, and one refusal among seven runs, so that the alert rules the next test
      // expects to stay quiet (failure ratio > 20 %) stay quiet.
      const target = 'versions';
      const sel = `job="${SERVICE}",hotreload_target="${target}"`;
      const perInstance = (metric: string) => `count by (instance, hotreload_target) (${metric}{${sel}})`;
      // A refused version becomes the newest candidate (with its error.type) while the active one stays;
      // the next success replaces both. Each state is waited for in Prometheus before the next reload,
      // so every version is scraped app -> Collector -> Prometheus while it is current.
      for (const scenario of ['success', 'success', 'failure', 'success', 'success', 'success', 'success']) {
        const r = await reload(scenario, target);
        const where = `after the ${scenario} run to ${r.version ?? r.candidateHash}`;
        const info = await promEventually(`${where}: config_info names the active version alone`, `hotreload_config_info{${sel}}`, (s) =>
          s.some((x) => x.metric.hotreload_config_hash === r.hash),
        ).then(() => promQuery(`hotreload_config_info{${sel}}`));
        assert.deepEqual(
          info.map((s) => s.metric.hotreload_config_hash),
          [r.hash],
          `${where}: ${info.length} config_info series`,
        );
        const candidate = await promEventually(`${where}: candidate_info names the newest candidate`, `hotreload_candidate_info{${sel}}`, (s) =>
          s.some((x) => x.metric.hotreload_config_hash === r.candidateHash),
        ).then(() => promQuery(`hotreload_candidate_info{${sel}}`));
        assert.deepEqual(
          candidate.map((s) => [s.metric.hotreload_config_hash, s.metric.error_type ?? '']),
          [[r.candidateHash, r.outcome === 'success' ? '' : r.error!.code]],
          `${where}: ${candidate.length} candidate_info series`,
        );
      }
      for (const metric of ['hotreload_config_info', 'hotreload_candidate_info']) {
        const counts = await promQuery(perInstance(metric));
        assert.deepEqual(
          counts.map((s) => [s.metric.instance, s.value[1]]),
          [[`127.0.0.1:${ports.appMetrics}`, '1']],
          `${metric} per instance and target`,
        );
      }
      // The dashboard's "Active version per instance" table: one row, the active version.
      const table = await promQuery(
        `max by (job, instance, hotreload_target, hotreload_config_hash, hotreload_config_version) (hotreload_config_info{${sel}})`,
      );
      const active = (await (await fetch(`${serviceUrl()}/active`)).json()) as Array<{ target: string; hash: string; version: string }>;
      const now = active.find((a) => a.target === target)!;
      assert.deepEqual(
        table.map((s) => [s.metric.hotreload_config_hash, s.metric.hotreload_config_version]),
        [[now.hash, now.version]],
      );
    }));

  test('every PromQL expression of the Grafana dashboard returns data from this Prometheus', () =>
    step(async () => {
      const dashboard = JSON.parse(readFileSync(join(COLLECTOR_DIR, 'grafana', 'dashboards', 'reloadscope.json'), 'utf8'));
      const exprs = dashboardExpressions(dashboard).flatMap((p) => p.exprs.map((e) => ({ title: p.title, expr: e })));
      assert.ok(exprs.length >= 15);
      // Panels of config-owned series (bundle pruning) have data only in apps that activate bundles,
      // cluster-owned ones only under a @reloadscope/cluster supervisor.
      const configSeries = METRIC_LIST.filter((d) => d.owner === 'config' || d.owner === 'cluster').flatMap((d) => prometheusSeries(d));
      for (const { title, expr } of exprs) {
        if (configSeries.some((name) => expr.includes(name))) continue;
        const query = resolveGrafanaVariables(expr, '1m');
        const result = await promEventually(`data for panel "${title}": ${query}`, query, (r) => r.length > 0, 30_000);
        assert.ok(result.length > 0);
      }
    }));

  test('every template variable of the Grafana dashboard lists values from this Prometheus, this service among its jobs', () =>
    step(async () => {
      const dashboard = JSON.parse(readFileSync(join(COLLECTOR_DIR, 'grafana', 'dashboards', 'reloadscope.json'), 'utf8'));
      const variables = dashboardVariables(dashboard);
      assert.deepEqual(variables.map((v) => v.name), ['job', 'instance', 'target']);
      for (const v of variables) {
        // What Grafana asks Prometheus for a label_values() variable, with "All" selected before it.
        const url = `${promUrl()}/api/v1/label/${v.label}/values?match[]=${encodeURIComponent(resolveGrafanaVariables(v.selector))}`;
        const values = await harness.waitFor(
          `values of variable ${v.name}: ${url}`,
          async () => {
            const body = await getJson<{ status: string; data: string[] }>(url);
            return body.status === 'success' && body.data.length > 0 ? body.data : undefined;
          },
          processes,
          { timeoutMs: 30_000, intervalMs: 500 },
        );
        if (v.name === 'job') assert.ok(values.includes(SERVICE), `job values ${values.join(', ')}`);
        if (v.name === 'target') assert.ok(values.includes(TARGET), `target values ${values.join(', ')}`);
      }
    }));

  test('the rules load; the healthy run raises no alert; five consecutive failures raise HotReloadConsecutiveFailures', () =>
    step(async () => {
      const rules = await getJson<{
        data: { groups: Array<{ rules: Array<{ name: string; health: string; type: string }> }> };
      }>(`${promUrl()}/api/v1/rules`);
      const loaded = rules.data.groups.flatMap((g) => g.rules).filter((r) => r.type === 'alerting');
      const shipped = (parse(readFileSync(join(COLLECTOR_DIR, 'prometheus', 'rules', 'hotreload.rules.yml'), 'utf8')) as {
        groups: Array<{ rules: Array<{ alert?: string }> }>;
      }).groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
      assert.deepEqual(loaded.map((r) => r.name).sort(), shipped.sort(), 'Prometheus loaded every shipped alert rule');
      for (const r of loaded) assert.equal(r.health, 'ok', `${r.name} health`);

      // Healthy run (with one failure, one timeout, one rollback among successes): no alert at all,
      // after several evaluations over the data.
      await promEventually('several rule evaluations', 'count_over_time(hotreload_generation[1m])', (r) =>
        r.some((s) => Number(s.value[1]) >= 10),
      );
      assert.deepEqual(await promQuery(`ALERTS{job="${SERVICE}"}`), []);

      // Five failures in a row on another target.
      for (let i = 0; i < 5; i++) {
        const r = await reload('failure', FLAKY);
        assert.equal(r.outcome, 'failure');
      }
      const alerts = await promEventually(
        'HotReloadConsecutiveFailures pending or firing',
        `ALERTS{alertname="HotReloadConsecutiveFailures",job="${SERVICE}"}`,
        (r) => r.length > 0,
      );
      assert.equal(alerts.length, 1);
      assert.equal(alerts[0]!.metric.hotreload_target, FLAKY);
      assert.ok(['pending', 'firing'].includes(alerts[0]!.metric.alertstate!));
      assert.equal(alerts[0]!.metric.severity, 'critical');
      // ...and only that target is alerting.
      assert.deepEqual(await promQuery(`ALERTS{job="${SERVICE}",hotreload_target="${TARGET}"}`), []);
    }));
});
