/**
 * The Kubernetes agent layer (collector/fleet/agent-kubernetes.yaml), live: the agent's kubernetes_sd talks to
 * a stand-in API server on loopback (list + watch of pods, JSON), scrapes the pods it keeps, and the gateway
 * shows their series with the labels the relabel rules set. The only change to the shipped layer is
 * `api_server`, pointing at the stand-in; the relabel rules run unchanged.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { COLLECTOR_DIR, freePorts, getText, Harness, type ManagedProcess, stackBinaries } from './harness.ts';

const NODE = 'node-1';
const harness = new Harness('reloadscope-k8s-sd-');
const processes: ManagedProcess[] = [];
const watches: ServerResponse[] = [];
const podRequests: URLSearchParams[] = [];
let api: Server | undefined;
let P: Record<string, number> = {};

const step = <T>(fn: () => Promise<T>): Promise<T> => harness.step(fn);

function pod(name: string, node: string, labels: Record<string, string>, annotations: Record<string, string>) {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, resourceVersion: '10', labels, annotations },
    spec: { nodeName: node, containers: [{ name: 'app', image: 'app' }] },
    status: { phase: 'Running', podIP: '127.0.0.1', hostIP: '127.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

/** The pods the stand-in API server knows; it filters by spec.nodeName as the real one does. */
function pods() {
  const port = String(P.appMetrics);
  return [
    pod('checkout-7d9f-a', NODE, { 'app.kubernetes.io/name': 'checkout' }, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': port }),
    pod('billing-5c4b-b', NODE, { 'app.kubernetes.io/name': 'checkout' }, {
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': port,
      'reloadscope.dev/service': 'billing',
    }),
    pod('quiet-1', NODE, { 'app.kubernetes.io/name': 'quiet' }, { 'prometheus.io/port': port }),
    pod('elsewhere-1', 'node-2', { 'app.kubernetes.io/name': 'elsewhere' }, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': port }),
  ];
}

function apiServer(): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://api');
    if (url.pathname !== '/api/v1/pods') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
      return;
    }
    podRequests.push(url.searchParams);
    const selector = url.searchParams.get('fieldSelector') ?? '';
    const items = pods().filter((p) => selector === '' || selector === `spec.nodeName=${p.spec.nodeName}`);
    if (url.searchParams.get('watch') !== 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '10' }, items }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // A watch-list request (client-go's default since 1.35) wants the current pods as ADDED events, then
    // a bookmark marking the end of the initial state.
    if (url.searchParams.get('sendInitialEvents') === 'true') {
      for (const object of items) res.write(`${JSON.stringify({ type: 'ADDED', object })}\n`);
      res.write(
        `${JSON.stringify({
          type: 'BOOKMARK',
          object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '10', annotations: { 'k8s.io/initial-events-end': 'true' } } },
        })}\n`,
      );
    }
    watches.push(res);
  });
}

describe('Kubernetes agent: kubernetes_sd on pod annotations, relabelled to job/instance', { timeout: 120_000 }, () => {
  before(
    () =>
      step(async () => {
        const bin = stackBinaries('otelcol');
        const names = ['api', 'appMetrics', 'app', 'gwGrpc', 'gwHttp', 'gwPush', 'gwProm', 'gwHealth', 'gwTel', 'agGrpc', 'agHttp', 'agHealth', 'agTel'];
        const free = await freePorts(names.length);
        P = Object.fromEntries(names.map((n, i) => [n, free[i]!]));
        api = apiServer();
        await new Promise<void>((ok) => api!.listen(P.api, '127.0.0.1', ok));

        // The shipped layer with only api_server added.
        const layer = parse(readFileSync(join(COLLECTOR_DIR, 'fleet', 'agent-kubernetes.yaml'), 'utf8'));
        layer.receivers.prometheus.config.scrape_configs[0].kubernetes_sd_configs[0].api_server = `http://127.0.0.1:${P.api}`;
        const layerPath = join(harness.dir, 'agent-kubernetes.yaml');
        writeFileSync(layerPath, stringify(layer));

        const base = `--config=${join(COLLECTOR_DIR, 'otel-collector.yaml')}`;
        const common = { ...process.env, OTELCOL_TELEMETRY_HOST: '127.0.0.1', OTELCOL_BATCH_TIMEOUT: '200ms' };
        const gateway = harness.start('gateway', bin.otelcol, [base, `--config=${join(COLLECTOR_DIR, 'fleet', 'gateway.yaml')}`], {
          env: {
            ...common,
            OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${P.gwGrpc}`,
            OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${P.gwHttp}`,
            OTELCOL_PUSH_GRPC_ENDPOINT: `127.0.0.1:${P.gwPush}`,
            OTELCOL_PROMETHEUS_ENDPOINT: `127.0.0.1:${P.gwProm}`,
            OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${P.gwHealth}`,
            OTELCOL_TELEMETRY_PORT: String(P.gwTel),
            // No Jaeger here: traces are not what this test is about.
            JAEGER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${P.api}`,
          },
        });
        const agent = harness.start(
          'agent',
          bin.otelcol,
          [base, `--config=${join(COLLECTOR_DIR, 'fleet', 'agent.yaml')}`, `--config=${layerPath}`],
          {
            env: {
              ...common,
              K8S_NODE_NAME: NODE,
              OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${P.agGrpc}`,
              OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${P.agHttp}`,
              OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${P.agHealth}`,
              OTELCOL_TELEMETRY_PORT: String(P.agTel),
              OTELCOL_GATEWAY_ENDPOINT: `127.0.0.1:${P.gwGrpc}`,
              OTELCOL_GATEWAY_PUSH_ENDPOINT: `127.0.0.1:${P.gwPush}`,
              RELOADSCOPE_SCRAPE_INTERVAL: '1s',
              RELOADSCOPE_SCRAPE_TIMEOUT: '1s',
            },
          },
        );
        const app = harness.start(
          'app',
          process.execPath,
          ['--import', '@reloadscope/register', join(import.meta.dirname, 'fixtures', 'service.ts')],
          {
            env: {
              ...process.env,
              OTEL_SERVICE_NAME: 'checkout',
              OTEL_TRACES_EXPORTER: 'none',
              OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
              OTEL_EXPORTER_PROMETHEUS_PORT: String(P.appMetrics),
              FIXTURE_PORT: String(P.app),
            },
          },
        );
        processes.push(gateway, agent, app);
        await harness.waitForHttp('gateway', `http://127.0.0.1:${P.gwHealth}/`, processes);
        await harness.waitForHttp('agent', `http://127.0.0.1:${P.agHealth}/`, processes);
        await harness.waitForHttp('app', `http://127.0.0.1:${P.app}/healthz`, processes);
      }),
    { timeout: 60_000 },
  );

  after(async () => {
    for (const w of watches) w.end();
    await harness.close();
    await new Promise((ok) => (api ? api.close(ok) : ok(undefined)));
  });

  test('annotated pods on this node are scraped: job is the service, instance the pod, plus namespace', () =>
    step(async () => {
      const series = (text: string) => text.split('\n').filter((l) => l.startsWith('hotreload_generation{'));
      const lines = await harness.waitFor(
        'both annotated pods of this node at the gateway',
        async () => {
          const found = series(await getText(`http://127.0.0.1:${P.gwProm}/metrics`));
          return found.length >= 2 ? found : undefined;
        },
        processes,
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      const labelsOf = (line: string) =>
        Object.fromEntries([...line.matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!])) as Record<string, string>;
      const seen = lines.map(labelsOf).map((l) => ({ job: l.job, instance: l.instance, namespace: l.namespace }));
      assert.deepEqual(
        seen.sort((a, b) => a.instance!.localeCompare(b.instance!)),
        [
          { job: 'billing', instance: 'billing-5c4b-b', namespace: 'shop' },
          { job: 'checkout', instance: 'checkout-7d9f-a', namespace: 'shop' },
        ],
        'the un-annotated pod and the other node\'s pod are not scraped',
      );
      // Only this node's pods were asked for.
      assert.ok(podRequests.length > 0);
      for (const q of podRequests) assert.equal(q.get('fieldSelector'), `spec.nodeName=${NODE}`);
    }));
});
