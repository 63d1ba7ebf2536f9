/**
 * The loopback stack's port plan and config wiring, checked against the shipped configs themselves:
 * every address Jaeger and the Collector listen on comes from the plan, on loopback, none twice
 * (with the shipped defaults they collide and the second to start dies), and the Prometheus run
 * directory is the shipped prometheus.yml with loopback file_sd targets, accepted by promtool.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { defaultPlan, freePlan, PORT_NAMES, type PortPlan, planProblems } from '../../scripts/stack-ports.ts';
import { stackBinaries } from '../../scripts/stack-processes.ts';
import {
  COLLECTOR_CONFIG,
  collectorEnv,
  JAEGER_CONFIG,
  jaegerEnv,
  PROMETHEUS_DIR,
  preparePrometheus,
  shippedPrometheusConfig,
} from '../../scripts/stack-wiring.ts';

const ENV_REF = /\$\{env:([A-Z0-9_]+)(?::-([^}]*))?\}/g;

/** The config text with every `${env:NAME:-default}` resolved the way the Collector/Jaeger resolve it. */
function resolveEnv(text: string, env: Record<string, string>): string {
  return text.replace(ENV_REF, (_all, name: string, fallback = '') => env[name] ?? fallback);
}

interface Address {
  path: string;
  address: string;
}

/** Every `endpoint:` string and every `host:`+`port:` pair in a parsed config, with where it is. */
function addresses(node: unknown, path = ''): Address[] {
  if (typeof node !== 'object' || node === null) return [];
  const here: Address[] = [];
  const record = node as Record<string, unknown>;
  if (typeof record.endpoint === 'string') here.push({ path: `${path}.endpoint`, address: record.endpoint });
  if (record.host !== undefined && record.port !== undefined) here.push({ path, address: `${record.host}:${record.port}` });
  for (const [key, child] of Object.entries(record)) here.push(...addresses(child, path ? `${path}.${key}` : key));
  return here;
}

const CLIENT_PATH = 'exporters.otlp/jaeger.endpoint'; // where the Collector sends traces, not a listener
const REMOTE_WRITE_PATH = 'exporters.prometheus_remote_write.endpoint'; // where pushed metrics go, not a listener

function listeners(configPath: string, env: Record<string, string>) {
  const all = addresses(parse(resolveEnv(readFileSync(configPath, 'utf8'), env)));
  return {
    listen: all.filter((a) => a.path !== CLIENT_PATH && a.path !== REMOTE_WRITE_PATH),
    client: all.find((a) => a.path === CLIENT_PATH)?.address,
    remoteWrite: all.find((a) => a.path === REMOTE_WRITE_PATH)?.address,
  };
}

const portOf = (address: string) => Number(address.split(':').at(-1));

function checkPlan(plan: PortPlan) {
  const jaeger = listeners(JAEGER_CONFIG, jaegerEnv(plan));
  const collector = listeners(COLLECTOR_CONFIG, collectorEnv(plan, { job: 'config-service' }));
  const all = [...jaeger.listen, ...collector.listen];
  assert.equal(jaeger.listen.length, 6, `Jaeger listeners: ${JSON.stringify(jaeger.listen)}`);
  assert.equal(collector.listen.length, 5, `Collector listeners: ${JSON.stringify(collector.listen)}`);
  const planned = new Set(PORT_NAMES.map((n) => plan[n]));
  for (const { path, address } of all) {
    assert.match(address, /^127\.0\.0\.1:\d+$/, `${path} listens on ${address}, not on loopback`);
    assert.ok(planned.has(portOf(address)), `${path} port ${address} is not in the plan`);
  }
  const ports = all.map((a) => portOf(a.address));
  assert.equal(new Set(ports).size, ports.length, `a port is used twice: ${JSON.stringify(all)}`);
  // The Collector exports to the port Jaeger receives OTLP/gRPC on.
  assert.equal(collector.client, `127.0.0.1:${plan.jaegerOtlpGrpc}`);
  const receiver = jaeger.listen.find((a) => a.path === 'receivers.otlp.protocols.grpc.endpoint');
  assert.equal(receiver?.address, collector.client);
  // Pushed metrics are remote-written into the stack's own Prometheus.
  assert.equal(collector.remoteWrite, `http://127.0.0.1:${plan.prometheus}/api/v1/write`);
}

test('with the shipped defaults Jaeger and the Collector collide: the reason for a port plan', () => {
  const jaeger = listeners(JAEGER_CONFIG, {}).listen.map((a) => portOf(a.address));
  const collector = listeners(COLLECTOR_CONFIG, {}).listen.map((a) => portOf(a.address));
  assert.deepEqual(
    jaeger.filter((p) => collector.includes(p)).sort(),
    [13133, 4317, 4318, 8888].sort(),
  );
});

test('every address variable of the shipped Jaeger and Collector configs is set by the stack wiring', () => {
  const plan = defaultPlan();
  for (const [config, env] of [
    [JAEGER_CONFIG, jaegerEnv(plan)],
    [COLLECTOR_CONFIG, collectorEnv(plan, { job: 'config-service' })],
  ] as const) {
    const names = [...readFileSync(config, 'utf8').matchAll(ENV_REF)].map((m) => m[1]!);
    const addressVars = names.filter((n) => /_(PORT|ENDPOINT|HOST|TARGET)$/.test(n));
    assert.ok(addressVars.length >= 6, `${config}: ${addressVars}`);
    for (const name of addressVars) assert.ok(env[name] !== undefined, `${config} reads ${name}, which the stack does not set`);
  }
});

test('the default plan and a free-port plan: everything on loopback, each port once, the Collector exports to Jaeger', async () => {
  assert.deepEqual(planProblems(defaultPlan()), []);
  checkPlan(defaultPlan());
  checkPlan(await freePlan());
});

test('planProblems names a port used twice and a value that is not a port', () => {
  const plan = { ...defaultPlan(), jaegerHealth: 13133, prometheus: 70000 };
  const problems = planProblems(plan);
  assert.ok(problems.some((p) => /jaegerHealth and collectorHealth both use port 13133/.test(p)), problems.join('; '));
  assert.ok(problems.some((p) => /prometheus: 70000 is not a TCP port/.test(p)), problems.join('; '));
});

test('the Prometheus run directory is the shipped prometheus.yml with loopback targets; promtool accepts it', async (t) => {
  const { promtool } = stackBinaries('promtool');
  const dir = mkdtempSync(join(tmpdir(), 'reloadscope-wiring-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const plan = await freePlan();

  const args = preparePrometheus(join(dir, 'as-shipped'), plan, { scrapeInterval: '2s' });
  assert.ok(args.includes(`--web.listen-address=127.0.0.1:${plan.prometheus}`));
  // As docker-compose runs it: a remote-write receiver with native histograms, for the metrics/otlp pipeline.
  const compose = parse(readFileSync(join(PROMETHEUS_DIR, '..', 'docker-compose.yml'), 'utf8'));
  for (const flag of ['--web.enable-remote-write-receiver', '--enable-feature=native-histograms']) {
    assert.ok(args.includes(flag), flag);
    assert.ok(compose.services.prometheus.command.includes(flag), `docker-compose: ${flag}`);
  }
  const configFile = join(dir, 'as-shipped', 'prometheus.yml');
  assert.ok(lstatSync(configFile).isSymbolicLink());
  assert.equal(readlinkSync(configFile), join(PROMETHEUS_DIR, 'prometheus.yml'), 'Prometheus runs the shipped file itself');
  const targets = (file: string) => JSON.parse(readFileSync(join(dir, 'as-shipped', 'targets', file), 'utf8'));
  assert.deepEqual(targets('otel-collector.yml'), [
    { targets: [`127.0.0.1:${plan.collectorProm}`], labels: { __scrape_interval__: '2s', __scrape_timeout__: '2s' } },
  ]);
  assert.deepEqual(targets('otel-collector-internal.yml')[0].targets, [`127.0.0.1:${plan.collectorTelemetry}`]);
  const { stdout } = await promisify(execFile)(promtool, ['check', 'config', configFile]);
  assert.match(stdout, /SUCCESS: 1 rule files found/);

  // With global overrides it is a derived copy: the shipped config with only `global` changed.
  preparePrometheus(join(dir, 'fast'), plan, { global: { evaluation_interval: '1s' } });
  const derived = JSON.parse(readFileSync(join(dir, 'fast', 'prometheus.yml'), 'utf8'));
  const shipped = shippedPrometheusConfig();
  assert.deepEqual({ ...derived, global: undefined }, { ...shipped, global: undefined });
  assert.deepEqual(derived.global, { ...shipped.global, evaluation_interval: '1s' });
});
