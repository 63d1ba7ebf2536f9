/**
 * The fleet path, live on loopback: four replicas of one service, two agent Collectors that find them through
 * file_sd, one gateway Collector, Jaeger, Prometheus with the shipped rules (windows and `for:` scaled down,
 * expressions unchanged: test/support/scaled-rules.ts), and Alertmanager routing to a webhook that this test
 * serves. Outcomes are read where an operator gets them: at the webhook.
 * Needs the binaries of scripts/setup-stack.sh (prometheus-alertmanager included).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ReloadResult } from '@reloadscope/core';
import { PROMETHEUS_FEATURE_FLAGS } from '../../scripts/stack-wiring.ts';
import { scaleRules } from '../support/scaled-rules.ts';
import {
  COLLECTOR_DIR,
  exposedNames,
  freePorts,
  getJson,
  getText,
  Harness,
  loopbackPrometheusConfig,
  type ManagedProcess,
  stackBinaries,
  startJaeger,
} from './harness.ts';

const SERVICE = `reloadscope-fleet-${randomBytes(3).toString('hex')}`;
/** One more service that pushes its metrics (OTLP, exponential histograms) through agent a instead of being scraped. */
const PUSHER = `${SERVICE}-push`;
// One minute of the shipped rules is one second here; Prometheus scrapes and evaluates every second.
const SCALE = 60;
const REPLICAS = 4;

interface Notification {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const harness = new Harness('reloadscope-fleet-');
const processes: ManagedProcess[] = [];
const notifications: Notification[] = [];
let webhook: Server | undefined;
let P: Record<string, number> = {};
const replicas: Array<{ name: string; http: number; metrics: number }> = [];

const step = <T>(fn: () => Promise<T>): Promise<T> => harness.step(fn);

const promUrl = () => `http://127.0.0.1:${P.prometheus}`;
const instanceOf = (r: { metrics: number }) => `127.0.0.1:${r.metrics}`;

async function promQuery(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const body = await getJson<{ data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }>(
    `${promUrl()}/api/v1/query?query=${encodeURIComponent(expr)}`,
  );
  return body.data.result;
}

function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  return harness.waitFor(what, probe, processes, { timeoutMs, intervalMs: 500 });
}

/** The instances Prometheus currently has for the service (through agent -> gateway). */
async function instancesInPrometheus(): Promise<string[]> {
  const r = await promQuery(`hotreload_generation{job="${SERVICE}",hotreload_target="app-config"}`);
  return r.map((s) => s.metric.instance!).sort();
}

/** Rewrites an agent's file_sd file the way a deploy tool should: a new file renamed over the old one. */
function writeTargets(agent: 'a' | 'b', members: typeof replicas): void {
  const dir = join(harness.dir, `sd-${agent}`);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, '.targets.json.tmp');
  writeFileSync(tmp, JSON.stringify([{ targets: members.map(instanceOf), labels: { service: SERVICE } }]));
  renameSync(tmp, join(dir, 'targets.json'));
}

async function reload(replica: (typeof replicas)[number], scenario: string): Promise<ReloadResult> {
  const res = await fetch(`http://127.0.0.1:${replica.http}/reload/${scenario}`, { method: 'POST' });
  assert.equal(res.status, 200, `reload ${scenario} on ${replica.name}`);
  return (await res.json()) as ReloadResult;
}

const firing = (alertname: string) => notifications.filter((n) => n.status === 'firing' && n.labels.alertname === alertname);

function collectorEnv(name: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${P[`${name}Health`]}`,
    OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${P[`${name}OtlpGrpc`]}`,
    OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${P[`${name}OtlpHttp`]}`,
    OTELCOL_TELEMETRY_HOST: '127.0.0.1',
    OTELCOL_TELEMETRY_PORT: String(P[`${name}Telemetry`]),
    OTELCOL_BATCH_TIMEOUT: '200ms',
    ...extra,
  };
}

describe('fleet: replicas -> agents (file_sd) -> gateway -> Jaeger / Prometheus -> Alertmanager -> webhook', { timeout: 240_000 }, () => {
  before(
    () =>
      step(async () => {
        const bin = stackBinaries('otelcol', 'jaeger', 'prometheus', 'alertmanager');
        const names = ['jaegerOtlpGrpc', 'jaegerOtlpHttp', 'jaegerQuery', 'jaegerQueryGrpc', 'jaegerHealth', 'jaegerMetrics'];
        for (const c of ['gateway', 'agentA', 'agentB']) names.push(`${c}OtlpGrpc`, `${c}OtlpHttp`, `${c}Health`, `${c}Telemetry`);
        names.push('gatewayProm', 'gatewayPush', 'prometheus', 'alertmanager', 'webhook');
        for (let i = 0; i < REPLICAS; i++) names.push(`r${i}Http`, `r${i}Metrics`);
        names.push('pusherHttp');
        const free = await freePorts(names.length);
        P = Object.fromEntries(names.map((n, i) => [n, free[i]!]));
        for (let i = 0; i < REPLICAS; i++) replicas.push({ name: `r${i}`, http: P[`r${i}Http`]!, metrics: P[`r${i}Metrics`]! });

        webhook = createServer((req, res) => {
          let body = '';
          req.on('data', (c: Buffer) => {
            body += c.toString('utf8');
          });
          req.on('end', () => {
            for (const a of (JSON.parse(body) as { alerts: Notification[] }).alerts) notifications.push(a);
            res.end();
          });
        });
        await new Promise<void>((ok) => webhook!.listen(P.webhook, '127.0.0.1', ok));

        const jaeger = startJaeger(harness, bin.jaeger, {
          otlpGrpc: P.jaegerOtlpGrpc!,
          otlpHttp: P.jaegerOtlpHttp!,
          query: P.jaegerQuery!,
          queryGrpc: P.jaegerQueryGrpc!,
          health: P.jaegerHealth!,
          metrics: P.jaegerMetrics!,
        });
        const base = `--config=${join(COLLECTOR_DIR, 'otel-collector.yaml')}`;
        const gateway = harness.start('gateway', bin.otelcol, [base, `--config=${join(COLLECTOR_DIR, 'fleet', 'gateway.yaml')}`], {
          env: collectorEnv('gateway', {
            OTELCOL_PROMETHEUS_ENDPOINT: `127.0.0.1:${P.gatewayProm}`,
            OTELCOL_PUSH_GRPC_ENDPOINT: `127.0.0.1:${P.gatewayPush}`,
            OTELCOL_REMOTE_WRITE_ENDPOINT: `http://127.0.0.1:${P.prometheus}/api/v1/write`,
            JAEGER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${P.jaegerOtlpGrpc}`,
            // A removed instance leaves the gateway's exporter this long after its last point.
            OTELCOL_METRIC_EXPIRATION: '5s',
          }),
        });
        // r0, r1 on agent a; r2 on agent b; r3 joins agent b later through its file_sd file.
        writeTargets('a', replicas.slice(0, 2));
        writeTargets('b', replicas.slice(2, 3));
        const agents = (['a', 'b'] as const).map((x) =>
          harness.start(`agent-${x}`, bin.otelcol, [base, `--config=${join(COLLECTOR_DIR, 'fleet', 'agent.yaml')}`], {
            env: collectorEnv(x === 'a' ? 'agentA' : 'agentB', {
              OTELCOL_GATEWAY_ENDPOINT: `127.0.0.1:${P.gatewayOtlpGrpc}`,
              OTELCOL_GATEWAY_PUSH_ENDPOINT: `127.0.0.1:${P.gatewayPush}`,
              RELOADSCOPE_FILE_SD: join(harness.dir, `sd-${x}`, '*.json'),
              RELOADSCOPE_FILE_SD_REFRESH: '1s',
              RELOADSCOPE_SCRAPE_INTERVAL: '1s',
              RELOADSCOPE_SCRAPE_TIMEOUT: '1s',
            }),
          }),
        );

        const rules = join(harness.dir, 'rules.yml');
        writeFileSync(rules, scaleRules(readFileSync(join(COLLECTOR_DIR, 'prometheus', 'rules', 'hotreload.rules.yml'), 'utf8'), SCALE));
        const promConfig = loopbackPrometheusConfig({ prom: P.gatewayProm!, telemetry: P.gatewayTelemetry! }, [rules]);
        promConfig.alerting = { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${P.alertmanager}`] }] }] };
        writeFileSync(join(harness.dir, 'prometheus.yml'), JSON.stringify(promConfig));
        const prometheus = harness.start('prometheus', bin.prometheus, [
          `--config.file=${join(harness.dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(harness.dir, 'prometheus-data')}`,
          `--web.listen-address=127.0.0.1:${P.prometheus}`,
          ...PROMETHEUS_FEATURE_FLAGS,
        ]);
        // One notification per alert and instance, sent as soon as it fires; resolved ones too.
        writeFileSync(
          join(harness.dir, 'alertmanager.yml'),
          JSON.stringify({
            route: { receiver: 'webhook', group_by: ['alertname', 'instance'], group_wait: '1s', group_interval: '1s', repeat_interval: '1h' },
            receivers: [{ name: 'webhook', webhook_configs: [{ url: `http://127.0.0.1:${P.webhook}/alerts`, send_resolved: true }] }],
          }),
        );
        const alertmanager = harness.start('alertmanager', bin.alertmanager, [
          `--config.file=${join(harness.dir, 'alertmanager.yml')}`,
          `--storage.path=${join(harness.dir, 'alertmanager-data')}`,
          `--web.listen-address=127.0.0.1:${P.alertmanager}`,
          '--cluster.listen-address=',
        ]);
        const services = replicas.map((r, i) =>
          harness.start(r.name, process.execPath, ['--import', '@reloadscope/register', join(import.meta.dirname, 'fixtures', 'service.ts')], {
            env: {
              ...process.env,
              OTEL_SERVICE_NAME: SERVICE,
              OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${P[i < 2 ? 'agentAOtlpHttp' : 'agentBOtlpHttp']}`,
              OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
              OTEL_EXPORTER_PROMETHEUS_PORT: String(r.metrics),
              OTEL_BSP_SCHEDULE_DELAY: '200',
              FIXTURE_PORT: String(r.http),
            },
          }),
        );
        const pusher = harness.start('pusher', process.execPath, ['--import', '@reloadscope/register', join(import.meta.dirname, 'fixtures', 'service.ts')], {
          env: {
            ...process.env,
            OTEL_SERVICE_NAME: PUSHER,
            OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${P.agentAOtlpHttp}`,
            OTEL_TRACES_EXPORTER: 'none',
            OTEL_METRICS_EXPORTER: 'otlp',
            OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram',
            OTEL_METRIC_EXPORT_INTERVAL: '1000',
            FIXTURE_PORT: String(P.pusherHttp),
          },
        });
        processes.push(jaeger, gateway, ...agents, prometheus, alertmanager, ...services, pusher);

        await harness.waitForHttp('Jaeger', `http://127.0.0.1:${P.jaegerQuery}/api/v3/services`, processes);
        for (const c of ['gateway', 'agentA', 'agentB']) {
          await harness.waitForHttp(`${c} health_check`, `http://127.0.0.1:${P[`${c}Health`]}/`, processes);
        }
        await harness.waitForHttp('Prometheus', `${promUrl()}/-/ready`, processes);
        await harness.waitForHttp('Alertmanager', `http://127.0.0.1:${P.alertmanager}/-/ready`, processes);
        for (const r of replicas) await harness.waitForHttp(r.name, `http://127.0.0.1:${r.http}/healthz`, processes);
        await harness.waitForHttp('pusher', `http://127.0.0.1:${P.pusherHttp}/healthz`, processes);
      }),
    { timeout: 120_000 },
  );

  after(async () => {
    await harness.close();
    await new Promise((ok) => (webhook ? webhook.close(ok) : ok(undefined)));
  });

  test('a service that pushes: agent -> the gateway\'s push receiver -> remote write; one native histogram, written once, never through the scrape path', () =>
    step(async () => {
      const res = await fetch(`http://127.0.0.1:${P.pusherHttp}/reload/success`, { method: 'POST' });
      assert.equal(res.status, 200);
      const sel = `job="${PUSHER}",hotreload_target="app-config"`;
      await until('the pushed load histogram in Prometheus', async () => {
        const r = await promQuery(`histogram_count(hotreload_stage_duration_seconds{${sel},hotreload_stage="load"})`);
        return r.length === 1 && Number(r[0]!.value[1]) === 2 ? true : undefined; // the startup load and this one
      });
      assert.deepEqual(await promQuery(`{__name__=~"hotreload_.*_bucket",job="${PUSHER}"}`), [], 'native only: no classic buckets');
      // Written once: one instance, and nothing of it on the gateway's scraped exporter.
      const generations = await promQuery(`hotreload_generation{${sel}}`);
      assert.equal(generations.length, 1, JSON.stringify(generations));
      assert.equal(Number(generations[0]!.value[1]), 2);
      assert.ok(!(await getText(`http://127.0.0.1:${P.gatewayProm}/metrics`)).includes(PUSHER), 'pushed series never reach the scraped exporter');
    }));

  test('file_sd: instances appear in Prometheus when added to the file, and disappear when removed', () =>
    step(async () => {
      const three = replicas.slice(0, 3).map(instanceOf).sort();
      await until('three instances in Prometheus', async () => ((await instancesInPrometheus()).join() === three.join() ? true : undefined));
      writeTargets('b', replicas.slice(2, 4));
      const four = replicas.map(instanceOf).sort();
      await until('the added instance in Prometheus', async () => ((await instancesInPrometheus()).join() === four.join() ? true : undefined));
      const up = await promQuery(`up{job="${SERVICE}"}`);
      assert.deepEqual(up.map((s) => s.metric.instance).sort(), four, 'job is the service, instance is host:port');
      writeTargets('b', replicas.slice(2, 3));
      await until('the removed instance gone from Prometheus', async () => ((await instancesInPrometheus()).join() === three.join() ? true : undefined));
      writeTargets('b', replicas.slice(2, 4));
      await until('the instance back', async () => ((await instancesInPrometheus()).join() === four.join() ? true : undefined));
    }));

  test('the gateway exposes exactly the names of the app\'s own endpoint', () =>
    step(async () => {
      const scrapeOwn = (n: string) => n === 'up' || n.startsWith('scrape_');
      let app: string[] = [];
      let gateway: string[] = [];
      await until(
        'the same names on the app and the gateway',
        async () => {
          app = [...exposedNames(await getText(`http://127.0.0.1:${replicas[0]!.metrics}/metrics`), '')].sort();
          gateway = [...exposedNames(await getText(`http://127.0.0.1:${P.gatewayProm}/metrics`), '')].filter((n) => !scrapeOwn(n)).sort();
          return app.join() === gateway.join() ? true : undefined;
        },
        20_000,
      ).catch(() => {}); // the assertion reports the difference
      assert.ok(app.some((n) => n.startsWith('hotreload_')));
      assert.deepEqual(gateway, app);
    }));

  test('a rolling update across all replicas brings no alert; every replica\'s trace reaches Jaeger through the gateway', () =>
    step(async () => {
      const rolled: ReloadResult[] = [];
      for (const r of replicas) {
        rolled.push(await reload(r, 'success'));
        await new Promise((ok) => setTimeout(ok, 1_000));
      }
      assert.deepEqual(rolled.map((r) => r.outcome), Array(REPLICAS).fill('success'));
      assert.equal(new Set(rolled.map((r) => r.hash)).size, 1, 'every replica ends on the same version');
      await until('the rollout in Prometheus', async () => {
        const r = await promQuery(`count(count_values("h", hotreload_config_hash{job="${SERVICE}",hotreload_target="app-config"}))`);
        const gens = await promQuery(`min(hotreload_generation{job="${SERVICE}",hotreload_target="app-config"})`);
        return r[0]?.value[1] === '1' && gens[0]?.value[1] === '2' ? true : undefined;
      });
      // Longer than HotReloadFleetDrift's scaled `for:` (15 s) and the drift windows (10 s).
      await new Promise((ok) => setTimeout(ok, 20_000));
      assert.deepEqual(notifications, [], 'the rollout raised no alert');
      assert.deepEqual(await promQuery(`ALERTS{job="${SERVICE}"}`), []);
      for (const [i, r] of rolled.entries()) {
        await until(`${replicas[i]!.name}'s reload trace in Jaeger`, async () => {
          const res = await fetch(`http://127.0.0.1:${P.jaegerQuery}/api/v3/traces/${r.traceId}`);
          await res.arrayBuffer();
          return res.status === 200 ? true : undefined;
        });
      }
    }));

  test('one replica on another config for longer than the window: HotReloadFleetDrift arrives at the webhook', () =>
    step(async () => {
      const r = await reload(replicas[1]!, 'success');
      assert.equal(r.outcome, 'success');
      const [alert] = await until('HotReloadFleetDrift at the webhook', async () => {
        const got = firing('HotReloadFleetDrift');
        return got.length > 0 ? got : undefined;
      });
      assert.equal(alert!.labels.job, SERVICE);
      assert.equal(alert!.labels.hotreload_target, 'app-config');
      assert.equal(alert!.labels.severity, 'warning');
      assert.match(alert!.annotations.description!, new RegExp(`Instances of ${SERVICE} have run at least two different versions`));
      // The legitimate reload behind it is no instance drift.
      assert.deepEqual(firing('HotReloadConfigDrift'), []);
    }));

  test('five failures in a row on one replica: HotReloadConsecutiveFailures arrives, naming that instance', () =>
    step(async () => {
      const target = replicas[2]!;
      for (let i = 0; i < 5; i++) assert.equal((await reload(target, 'failure')).outcome, 'failure');
      const got = await until('HotReloadConsecutiveFailures at the webhook', async () => {
        const n = firing('HotReloadConsecutiveFailures');
        return n.length > 0 ? n : undefined;
      });
      assert.deepEqual(
        [...new Set(got.map((n) => n.labels.instance))],
        [instanceOf(target)],
        'only the failing replica is named',
      );
      assert.equal(got[0]!.labels.job, SERVICE);
      assert.equal(got[0]!.labels.severity, 'critical');
      assert.match(got[0]!.annotations.description!, new RegExp(`on ${instanceOf(target).replace(/\./g, '\\.')} \\(${SERVICE}\\) has failed 5 reloads`));
    }));
});
