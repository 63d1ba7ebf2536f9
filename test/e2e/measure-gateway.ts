/**
 * Measures what the fleet path costs per series, for collector/README.md "Fleet scale":
 *   node test/e2e/measure-gateway.ts [instances=200] [seconds=60]
 * Serves one real app exposition (captured from the e2e fixture service) on `instances` loopback ports,
 * lists them in one agent's file_sd file, and reads the agent's and the gateway's own memory metrics once
 * the series have settled. Not a test: it prints numbers.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { COLLECTOR_DIR, freePorts, getText, Harness, stackBinaries } from './harness.ts';

const instances = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 60);
const harness = new Harness('reloadscope-measure-');
const servers: Server[] = [];

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').at(-1)) : Number.NaN;
}

try {
  const { otelcol } = stackBinaries('otelcol');
  // One real exposition: the fixture service after one run of every outcome.
  const [appMetrics, appHttp] = await freePorts(2);
  const app = spawn(process.execPath, ['--import', '@reloadscope/register', join(import.meta.dirname, 'fixtures', 'service.ts')], {
    env: {
      ...process.env,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_SERVICE_NAME: 'measure',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(appMetrics),
      FIXTURE_PORT: String(appHttp),
    },
    stdio: 'ignore',
  });
  await harness.waitForHttp('fixture', `http://127.0.0.1:${appHttp}/healthz`, []);
  for (const s of ['success', 'unchanged', 'failure', 'timeout', 'rollback', 'success']) {
    await fetch(`http://127.0.0.1:${appHttp}/reload/${s}`, { method: 'POST' }).then((r) => r.arrayBuffer());
  }
  const exposition = await getText(`http://127.0.0.1:${appMetrics}/metrics`);
  app.kill();
  const perInstance = exposition.split('\n').filter((l) => l && !l.startsWith('#')).length;

  const ports = await freePorts(instances + 10);
  const targets = ports.slice(10);
  for (const port of targets) {
    const server = createServer((_req, res) => res.end(exposition));
    server.listen(port, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
  }
  const [gwGrpc, gwHttp, gwProm, gwHealth, gwTel, agGrpc, agHttp, agHealth, agTel, gwPush] = ports as [number, ...number[]];
  const sd = join(harness.dir, 'sd');
  mkdirSync(sd);
  writeFileSync(join(sd, 'targets.json'), JSON.stringify([{ targets: targets.map((p) => `127.0.0.1:${p}`), labels: { service: 'measure' } }]));
  const base = `--config=${join(COLLECTOR_DIR, 'otel-collector.yaml')}`;
  const common = { ...process.env, OTELCOL_TELEMETRY_HOST: '127.0.0.1' };
  const gateway = harness.start('gateway', otelcol, [base, `--config=${join(COLLECTOR_DIR, 'fleet', 'gateway.yaml')}`], {
    env: {
      ...common,
      OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${gwGrpc}`,
      OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${gwHttp}`,
      OTELCOL_PROMETHEUS_ENDPOINT: `127.0.0.1:${gwProm}`,
      OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${gwHealth}`,
      OTELCOL_TELEMETRY_PORT: String(gwTel),
      OTELCOL_PUSH_GRPC_ENDPOINT: `127.0.0.1:${gwPush}`,
      OTELCOL_BATCH_SIZE: '8192',
    },
  });
  const agent = harness.start('agent', otelcol, [base, `--config=${join(COLLECTOR_DIR, 'fleet', 'agent.yaml')}`], {
    env: {
      ...common,
      OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${agGrpc}`,
      OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${agHttp}`,
      OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${agHealth}`,
      OTELCOL_TELEMETRY_PORT: String(agTel),
      OTELCOL_GATEWAY_ENDPOINT: `127.0.0.1:${gwGrpc}`,
      OTELCOL_GATEWAY_PUSH_ENDPOINT: `127.0.0.1:${gwPush}`,
      RELOADSCOPE_FILE_SD: join(sd, '*.json'),
      RELOADSCOPE_SCRAPE_INTERVAL: '15s',
    },
  });
  await harness.waitForHttp('gateway', `http://127.0.0.1:${gwHealth}/`, [gateway]);
  await harness.waitForHttp('agent', `http://127.0.0.1:${agHealth}/`, [agent]);
  await sleep(seconds * 1000);
  const exported = (await getText(`http://127.0.0.1:${gwProm}/metrics`)).split('\n').filter((l) => l && !l.startsWith('#')).length;
  const gw = await getText(`http://127.0.0.1:${gwTel}/metrics`);
  const ag = await getText(`http://127.0.0.1:${agTel}/metrics`);
  const mib = (n: number) => (n / 2 ** 20).toFixed(0);
  const gwRss = metric(gw, 'otelcol_process_memory_rss');
  const gwHeap = metric(gw, 'otelcol_process_runtime_heap_alloc_bytes');
  console.log(`instances ${instances}, series per instance ${perInstance}, series at the gateway ${exported}`);
  console.log(`gateway: rss ${mib(gwRss)} MiB, go heap ${mib(gwHeap)} MiB, ${(gwHeap / exported).toFixed(0)} B heap per series`);
  console.log(`agent:   rss ${mib(metric(ag, 'otelcol_process_memory_rss'))} MiB, go heap ${mib(metric(ag, 'otelcol_process_runtime_heap_alloc_bytes'))} MiB`);
} finally {
  for (const s of servers) s.close();
  await harness.close();
}
