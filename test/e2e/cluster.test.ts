/**
 * End to end for @reloadscope/cluster: `reloadscope-cluster` exports OTLP traces to the Collector ->
 * Jaeger v2, and the Collector scrapes the supervisor's one merged Prometheus endpoint. One upgrade,
 * started through the token-protected HTTP trigger, must show up in Jaeger (root, stages, both new
 * workers' start-up spans under the load stage) and in the Collector's metrics (the primary's
 * upgrade counts and each worker's own series). Needs the binaries of scripts/setup-stack.sh.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { COLLECTOR_DIR, freePorts, getText, Harness, type ManagedProcess, stackBinaries } from './harness.ts';

const SERVICE = `reloadscope-e2e-cluster-${randomBytes(3).toString('hex')}`;
const TOKEN = randomBytes(16).toString('hex');
const REGISTER_API = import.meta.resolve('@reloadscope/register/api');

const harness = new Harness('reloadscope-e2e-cluster-');
const processes: ManagedProcess[] = [];
const ports: Record<string, number> = {};
let upgrade: { outcome: string; traceId: string; version: string };

const step = <T>(fn: () => Promise<T>): Promise<T> => harness.step(fn);

/** A plain server that also runs one config reload of its own through the supervisor's register. */
function release(root: string, name: string): void {
  const dir = join(root, 'releases', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'server.mjs'),
    `import http from 'node:http';
const { getReloadInstrumentation } = await import(process.env.RS_REGISTER_API);
await getReloadInstrumentation().reload({ target: 'app-config' }, { load: () => '${name}', switch: () => undefined });
http.createServer((req, res) => res.end('${name}')).listen(Number(process.env.PORT), '127.0.0.1');
`,
  );
}

function activate(root: string, name: string): void {
  const tmp = join(root, `.current-${name}`);
  symlinkSync(join('releases', name), tmp);
  renameSync(tmp, join(root, 'current'));
}

describe('cluster pipeline: reloadscope-cluster -> Collector -> Jaeger v2 / Prometheus exporter', { timeout: 180_000 }, () => {
  before(
    () =>
      step(async () => {
        const bin = stackBinaries('jaeger', 'otelcol');
        const names = ['jaegerOtlpGrpc', 'jaegerOtlpHttp', 'jaegerQuery', 'jaegerQueryGrpc', 'jaegerHealth', 'jaegerMetrics', 'collectorOtlpGrpc', 'collectorOtlpHttp', 'collectorProm', 'collectorHealth', 'collectorTelemetry', 'metrics', 'app', 'trigger'];
        const free = await freePorts(names.length);
        names.forEach((n, i) => {
          ports[n] = free[i]!;
        });
        processes.push(
          harness.start('jaeger', bin.jaeger, [`--config=${join(COLLECTOR_DIR, 'jaeger.yaml')}`], {
            env: {
              ...process.env,
              JAEGER_LISTEN_HOST: '127.0.0.1',
              JAEGER_OTLP_GRPC_PORT: String(ports.jaegerOtlpGrpc),
              JAEGER_OTLP_HTTP_PORT: String(ports.jaegerOtlpHttp),
              JAEGER_QUERY_HTTP_PORT: String(ports.jaegerQuery),
              JAEGER_QUERY_GRPC_PORT: String(ports.jaegerQueryGrpc),
              JAEGER_HEALTH_PORT: String(ports.jaegerHealth),
              JAEGER_METRICS_PORT: String(ports.jaegerMetrics),
            },
          }),
          harness.start('otelcol', bin.otelcol, [`--config=${join(COLLECTOR_DIR, 'otel-collector.yaml')}`], {
            env: {
              ...process.env,
              OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${ports.collectorHealth}`,
              OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.collectorOtlpGrpc}`,
              OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.collectorOtlpHttp}`,
              OTELCOL_PROMETHEUS_ENDPOINT: `127.0.0.1:${ports.collectorProm}`,
              OTELCOL_TELEMETRY_HOST: '127.0.0.1',
              OTELCOL_TELEMETRY_PORT: String(ports.collectorTelemetry),
              OTELCOL_BATCH_TIMEOUT: '200ms',
              JAEGER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.jaegerOtlpGrpc}`,
              RELOADSCOPE_SCRAPE_JOB: SERVICE,
              RELOADSCOPE_SCRAPE_TARGET: `127.0.0.1:${ports.metrics}`,
              RELOADSCOPE_SCRAPE_INTERVAL: '1s',
              RELOADSCOPE_SCRAPE_TIMEOUT: '1s',
            },
          }),
        );
        const root = join(harness.dir, 'app');
        release(root, 'a');
        release(root, 'b');
        activate(root, 'a');
        const supervisor = harness.start(
          'supervisor',
          process.execPath,
          ['packages/cluster/src/cli.ts', '--release', join(root, 'current'), '--entry', 'server.mjs', '--workers', '2'],
          {
            env: {
              ...process.env,
              OTEL_SERVICE_NAME: SERVICE,
              OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.collectorOtlpHttp}`,
              OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
              OTEL_EXPORTER_PROMETHEUS_PORT: String(ports.metrics),
              OTEL_BSP_SCHEDULE_DELAY: '200',
              RELOADSCOPE_RUNTIME_METRICS: 'false',
              RELOADSCOPE_CLUSTER_HTTP_TOKEN: TOKEN,
              RELOADSCOPE_CLUSTER_HTTP_PORT: String(ports.trigger),
              RS_REGISTER_API: REGISTER_API,
              PORT: String(ports.app),
            },
          },
        );
        processes.push(supervisor);
        await harness.waitForHttp('Jaeger query API', `http://127.0.0.1:${ports.jaegerQuery}/api/v3/services`, processes);
        await harness.waitForHttp('Collector health_check', `http://127.0.0.1:${ports.collectorHealth}/`, processes);
        await harness.waitForHttp('the cluster metrics endpoint', `http://127.0.0.1:${ports.metrics}/metrics`, processes);
        // The trigger listens once the first generation is ready; any answer (405 to a GET) means it is up.
        await harness.waitFor('the HTTP trigger', async () => (await fetch(`http://127.0.0.1:${ports.trigger}/reload`)).status, processes);
        activate(root, 'b');
        const res = await fetch(`http://127.0.0.1:${ports.trigger}/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
        upgrade = (await res.json()) as typeof upgrade;
      }),
    { timeout: 120_000 },
  );

  after(() => harness.close());

  test('the upgrade succeeded through the HTTP trigger', () =>
    step(async () => {
      assert.equal(upgrade.outcome, 'success');
      assert.equal(upgrade.version, 'b');
      assert.match(upgrade.traceId, /^[0-9a-f]{32}$/);
      assert.equal(await getText(`http://127.0.0.1:${ports.app}/`), 'b');
    }));

  test('Jaeger has the upgrade trace: root, four stages, and both new workers\' start-up under the load stage', () =>
    step(async () => {
      interface Span {
        spanId: string;
        parentSpanId?: string;
        name: string;
        attributes?: Array<{ key: string; value: { intValue?: string | number } }>;
      }
      const spans = await harness.waitFor(
        'the upgrade trace with both workers in Jaeger',
        async () => {
          const res = await fetch(`http://127.0.0.1:${ports.jaegerQuery}/api/v3/traces/${upgrade.traceId}`);
          if (res.status !== 200) return undefined;
          const body = (await res.json()) as { result: { resourceSpans: Array<{ scopeSpans: Array<{ spans: Span[] }> }> } };
          const all = body.result.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
          return all.filter((s) => s.name === 'hotreload.cluster.worker.start').length === 2 && all.some((s) => s.name === 'hotreload.unload') ? all : undefined;
        },
        processes,
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      const root = spans.find((s) => s.name === 'hotreload' && !s.parentSpanId)!;
      assert.ok(root, 'the root span');
      for (const stage of ['load', 'verify', 'switch', 'unload']) {
        assert.ok(spans.some((s) => s.name === `hotreload.${stage}` && s.parentSpanId === root.spanId), stage);
      }
      const load = spans.find((s) => s.name === 'hotreload.load')!;
      const starts = spans.filter((s) => s.name === 'hotreload.cluster.worker.start');
      for (const s of starts) assert.equal(s.parentSpanId, load.spanId);
      assert.deepEqual(starts.map((s) => Number(s.attributes?.find((a) => a.key === 'hotreload.cluster.worker.slot')?.value.intValue)).sort(), [0, 1]);
    }));

  test('the Collector has the primary\'s upgrade metrics and each worker\'s own series from the one scrape target', () =>
    step(async () => {
      const has = (text: string, name: string, labels: string[]) => text.split('\n').some((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
      await harness.waitFor(
        'cluster series via the Collector',
        async () => {
          const text = await getText(`http://127.0.0.1:${ports.collectorProm}/metrics`);
          const ok =
            has(text, 'hotreload_reloads_total', ['hotreload_target="app-code"', 'hotreload_trigger="http"', 'hotreload_outcome="success"']) &&
            has(text, 'hotreload_cluster_workers', ['hotreload_cluster_generation="current"']) &&
            has(text, 'hotreload_cluster_drain_duration_seconds_bucket', ['hotreload_target="app-code"']) &&
            has(text, 'hotreload_reloads_total', ['hotreload_cluster_worker="0"', 'hotreload_target="app-config"']) &&
            has(text, 'hotreload_reloads_total', ['hotreload_cluster_worker="1"', 'hotreload_target="app-config"']);
          return ok ? true : undefined;
        },
        processes,
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    }));
});
