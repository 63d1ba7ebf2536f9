/**
 * Static checks of the bundled stack configuration, each with the real tool that consumes it:
 * promtool (Prometheus config, alert rules and their unit tests), the Collector's own `validate`,
 * docker-compose's parser, and the Grafana dashboard against the telemetry catalogue.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ATTRIBUTES_AS_LABELS, dashboardExpressions, dashboardVariables, metricNamesIn } from '../e2e/dashboard.ts';
import { COLLECTOR_DIR, REPO_ROOT, stackBinaries } from '../e2e/harness.ts';
import { METRIC_LIST, prometheusSeries } from '@reloadscope/core';
import { parse } from 'yaml';
import { scaleRules } from '../support/scaled-rules.ts';

const run = promisify(execFile);
const PROM_DIR = join(COLLECTOR_DIR, 'prometheus');
const RULES_DIR = join(PROM_DIR, 'rules');

async function tool(cmd: string, args: string[], cwd = REPO_ROOT): Promise<string> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, timeout: 60_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    assert.fail(`${cmd} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}\n${e.message}`);
  }
}

test('promtool accepts prometheus.yml as shipped, with the rules and the docker-compose targets it loads', async () => {
  const { promtool } = stackBinaries('promtool');
  // Relative paths: the same file runs under docker-compose and from `npm run stack`'s run directory.
  const config = parse(readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8'));
  assert.deepEqual(config.rule_files, ['rules/*.yml']);
  const out = await tool(promtool, ['check', 'config', join(PROM_DIR, 'prometheus.yml')]);
  assert.match(out, /SUCCESS: 1 rule files found/);
  const collectorJob = config.scrape_configs.find((s: { job_name: string }) => s.job_name === 'otel-collector');
  assert.equal(collectorJob?.honor_labels, true, 'the Collector job must keep the apps\' job/instance labels');
  // promtool reads the file_sd files too; under docker-compose they name the Collector's service.
  for (const job of config.scrape_configs) {
    for (const file of job.file_sd_configs.flatMap((sd: { files: string[] }) => sd.files)) {
      const targets = parse(readFileSync(join(PROM_DIR, file), 'utf8'));
      assert.match(targets[0].targets[0], /^otel-collector:\d+$/, `${file}`);
    }
  }
});

test('promtool checks the alert rules: every intent is there, each with summary and description', async () => {
  const { promtool } = stackBinaries('promtool');
  const files = readdirSync(RULES_DIR).filter((f) => f.endsWith('.yml'));
  assert.ok(files.length > 0);
  const out = await tool(promtool, ['check', 'rules', ...files.map((f) => join(RULES_DIR, f))]);
  assert.match(out, /SUCCESS/);
  const alerts = files.flatMap((f) =>
    parse(readFileSync(join(RULES_DIR, f), 'utf8')).groups.flatMap(
      (g: { rules: Array<Record<string, unknown>> }) => g.rules,
    ),
  );
  const names = alerts.map((r) => r.alert);
  for (const expected of [
    'HotReloadFailureRatioHigh',
    'HotReloadSlow',
    'HotReloadConsecutiveFailures',
    'HotReloadLastFailed',
    'HotReloadConfigDrift',
    'HotReloadFleetDrift',
    'HotReloadStuck',
    'HotReloadVersionsRetained',
    'HotReloadCandidateDrift',
  ]) {
    assert.ok(names.includes(expected), `missing alert ${expected}`);
  }
  const catalogueSeries = new Set(METRIC_LIST.flatMap((d) => prometheusSeries(d)));
  for (const rule of alerts) {
    const annotations = rule.annotations as Record<string, string>;
    assert.ok(annotations.summary && annotations.description, `${rule.alert} needs summary and description`);
    assert.ok(['warning', 'critical'].includes(String((rule.labels as Record<string, string>).severity)));
    for (const name of metricNamesIn(String(rule.expr))) {
      assert.ok(catalogueSeries.has(name), `${rule.alert} uses ${name}, which is not in the catalogue`);
    }
  }
});

test('promtool unit tests of every rule pass (fire and stay-quiet cases)', async () => {
  const { promtool } = stackBinaries('promtool');
  const testsDir = join(PROM_DIR, 'tests');
  const files = readdirSync(testsDir).filter((f) => f.endsWith('.yml'));
  assert.ok(files.length > 0);
  const out = await tool(promtool, ['test', 'rules', ...files], testsDir);
  assert.match(out, /SUCCESS/);
  assert.doesNotMatch(out, /FAILED/);
  // Every alert has at least one test where it fires and one where it must stay quiet.
  const tested = new Map<string, { fires: boolean; quiet: boolean }>();
  for (const f of files) {
    for (const t of parse(readFileSync(join(testsDir, f), 'utf8')).tests) {
      for (const a of t.alert_rule_test ?? []) {
        const seen = tested.get(a.alertname) ?? { fires: false, quiet: false };
        if ((a.exp_alerts ?? []).length > 0) seen.fires = true;
        else seen.quiet = true;
        tested.set(a.alertname, seen);
      }
    }
  }
  const rules = readdirSync(RULES_DIR)
    .filter((f) => f.endsWith('.yml'))
    .flatMap((f) => parse(readFileSync(join(RULES_DIR, f), 'utf8')).groups.flatMap((g: { rules: Array<{ alert: string }> }) => g.rules));
  for (const { alert } of rules) {
    assert.deepEqual(tested.get(alert), { fires: true, quiet: true }, `${alert} needs a firing and a quiet test`);
  }
});

test('the built Collector validates otel-collector.yaml, and it uses exactly the manifest components', async () => {
  const { otelcol } = stackBinaries('otelcol');
  const configPath = join(COLLECTOR_DIR, 'otel-collector.yaml');
  await tool(otelcol, ['validate', `--config=${configPath}`]);
  const config = parse(readFileSync(configPath, 'utf8'));
  const manifest = parse(readFileSync(join(COLLECTOR_DIR, 'builder-config.yaml'), 'utf8'));
  const componentType = (gomod: string) =>
    gomod
      .split(' ')[0]!
      .split('/')
      .pop()!
      .replace(/(receiver|processor|exporter|extension)$/, '');
  // Component ids in the config are `type` or `type/name`; the manifest lists Go modules named <type><kind>.
  const aliases: Record<string, string> = {
    memory_limiter: 'memorylimiter',
    health_check: 'healthcheck',
    prometheus_remote_write: 'prometheusremotewrite',
  };
  for (const kind of ['receivers', 'processors', 'exporters', 'extensions'] as const) {
    const used = new Set(Object.keys(config[kind]).map((id) => id.split('/')[0]!).map((t) => aliases[t] ?? t));
    const built = new Set((manifest[kind] as Array<{ gomod: string }>).map((c) => componentType(c.gomod)));
    assert.deepEqual([...used].sort(), [...built].sort(), `${kind}: config uses ${[...used]}, manifest builds ${[...built]}`);
  }
});

/** The fleet layers, each as the Collector is started with it: the single-node config first, overlays after. */
const FLEET_LAYERS = {
  agent: ['otel-collector.yaml', 'fleet/agent.yaml'],
  'agent (kubernetes)': ['otel-collector.yaml', 'fleet/agent.yaml', 'fleet/agent-kubernetes.yaml'],
  gateway: ['otel-collector.yaml', 'fleet/gateway.yaml'],
} as const;

test('the built Collector validates the agent, Kubernetes agent and gateway layers, and they only add pieces', async () => {
  const { otelcol } = stackBinaries('otelcol');
  const base = parse(readFileSync(join(COLLECTOR_DIR, 'otel-collector.yaml'), 'utf8'));
  for (const [name, files] of Object.entries(FLEET_LAYERS)) {
    const args = ['validate', ...files.map((f) => `--config=${join(COLLECTOR_DIR, f)}`)];
    await run(otelcol, args, { cwd: REPO_ROOT, timeout: 60_000, env: { ...process.env, K8S_NODE_NAME: 'node-1' } }).catch((err) =>
      assert.fail(`${name}: ${err.stderr ?? err.message}`),
    );
    // Shared, not copied: an overlay defines no processor or extension of its own.
    for (const f of files.slice(1)) {
      const overlay = parse(readFileSync(join(COLLECTOR_DIR, f), 'utf8'));
      assert.equal(overlay.processors, undefined, `${f} must reuse the base processors`);
      assert.equal(overlay.extensions, undefined, `${f} must reuse the base extensions`);
      for (const kind of ['receivers', 'exporters'] as const) {
        for (const id of Object.keys(overlay[kind] ?? {})) {
          const type = id.split('/')[0]!;
          assert.ok(
            Object.keys(base[kind]).some((b) => b.split('/')[0] === type),
            `${f}: ${kind} ${id} has a type the base (and so the manifest) does not build`,
          );
        }
      }
    }
  }
  const k8s = parse(readFileSync(join(COLLECTOR_DIR, 'fleet', 'agent-kubernetes.yaml'), 'utf8'));
  const relabels = k8s.receivers.prometheus.config.scrape_configs[0].relabel_configs as Array<Record<string, unknown>>;
  const targetOf = (label: string) => relabels.filter((r) => r.target_label === label).map((r) => r.source_labels);
  assert.deepEqual(targetOf('instance'), [['__meta_kubernetes_pod_name']], 'instance is the pod');
  assert.ok(targetOf('job').length > 0, 'job is set from the pod');
});

/** The parts of a Collector config the pipeline checks read. */
interface CollectorConfig {
  service: { pipelines: Record<string, { receivers?: string[]; processors?: string[]; exporters?: string[] }> };
  receivers: Record<string, { protocols: { grpc: { endpoint: string } } }>;
  exporters: Record<string, { endpoint: string }>;
}

/** The Collector's merge of --config layers: maps merge key by key, anything else (lists too) is replaced. */
function mergeLayers(files: readonly string[]): CollectorConfig {
  const merge = (a: unknown, b: unknown): unknown => {
    if (typeof a !== 'object' || a === null || Array.isArray(a) || typeof b !== 'object' || b === null || Array.isArray(b)) return b;
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? merge(out[k], v) : v;
    return out;
  };
  return files.map((f) => parse(readFileSync(join(COLLECTOR_DIR, f), 'utf8')) as unknown).reduce((a, b) => merge(a, b)) as CollectorConfig;
}

test('pushed metrics travel apart from scraped ones: remote-written by the single node and the gateway, never by an agent, never twice', () => {
  const single = mergeLayers(['otel-collector.yaml']).service.pipelines;
  assert.deepEqual(single['metrics/otlp'], { receivers: ['otlp'], processors: ['memory_limiter', 'resource', 'batch'], exporters: ['prometheus_remote_write'] });
  assert.deepEqual(single.metrics!.exporters, ['prometheus']);
  for (const layers of [FLEET_LAYERS.agent, FLEET_LAYERS['agent (kubernetes)']]) {
    const agent = mergeLayers(layers).service.pipelines;
    assert.deepEqual(agent['metrics/otlp']!.exporters, ['otlp/gateway-push'], 'an agent forwards pushed metrics to the gateway');
    assert.deepEqual(agent.metrics!.exporters, ['otlp/gateway']);
  }
  const gatewayConfig = mergeLayers(FLEET_LAYERS.gateway);
  const gateway = gatewayConfig.service.pipelines;
  assert.deepEqual(gateway['metrics/otlp']!.receivers, ['otlp/push']);
  assert.deepEqual(gateway['metrics/otlp']!.exporters, ['prometheus_remote_write']);
  assert.deepEqual(gateway.metrics!.receivers, ['otlp'], 'the scraped series arrive on the other receiver');
  // The agent's push exporter targets the gateway's push receiver port.
  const agentConfig = mergeLayers(FLEET_LAYERS.agent);
  const port = (endpoint: string) => endpoint.replace(/\$\{env:[A-Z_]+:-([^}]*)\}/, '$1').split(':').at(-1);
  assert.equal(port(agentConfig.exporters['otlp/gateway-push']!.endpoint), port(gatewayConfig.receivers['otlp/push']!.protocols.grpc.endpoint));
});

test('the scaled rules used by live tests differ from the shipped ones only in windows and for:', () => {
  const shipped = readFileSync(join(RULES_DIR, 'hotreload.rules.yml'), 'utf8');
  const rulesOf = (text: string) =>
    parse(text).groups.flatMap((g: { rules: Array<{ alert: string; expr: string; for: string }> }) => g.rules);
  const a = rulesOf(shipped);
  const b = rulesOf(scaleRules(shipped, 60));
  assert.equal(b.length, a.length);
  for (const [i, r] of a.entries()) {
    assert.equal(b[i].alert, r.alert);
    assert.equal(b[i].expr.replace(/\[[^\]]*\]/g, '[]'), r.expr.replace(/\[[^\]]*\]/g, '[]'));
  }
  const drift = b.find((r: { alert: string }) => r.alert === 'HotReloadFleetDrift');
  assert.equal(drift.for, '15s');
  assert.match(b.find((r: { alert: string }) => r.alert === 'HotReloadConfigDrift').expr, /changes\(hotreload_config_hash\{job=~"\.\+"\}\[10s\]\)/);
  assert.throws(() => scaleRules(shipped, 1e9), /is no duration/);
});

test('docker-compose parses the stack file and every file it mounts or builds from exists', async () => {
  const composeFile = join(COLLECTOR_DIR, 'docker-compose.yml');
  await tool('docker-compose', ['-f', composeFile, 'config', '-q']);
  const compose = parse(readFileSync(composeFile, 'utf8'));
  const services = compose.services as Record<string, { volumes?: string[]; build?: { context: string; dockerfile: string } }>;
  for (const name of ['otel-collector', 'jaeger', 'prometheus', 'grafana', 'config-service']) {
    assert.ok(services[name], `service ${name} missing`);
  }
  let mounts = 0;
  for (const [name, svc] of Object.entries(services)) {
    for (const volume of svc.volumes ?? []) {
      const source = volume.split(':')[0]!;
      if (!source.startsWith('.') && !isAbsolute(source)) continue; // named volume
      mounts += 1;
      assert.ok(existsSync(resolve(COLLECTOR_DIR, source)), `${name} mounts ${source}, which does not exist`);
    }
    if (svc.build) {
      const context = resolve(COLLECTOR_DIR, svc.build.context);
      assert.ok(existsSync(join(context, svc.build.dockerfile)), `${name} builds from a missing Dockerfile`);
    }
  }
  assert.ok(mounts >= 5, 'the stack mounts its configs from the repo');
});

test('the Grafana dashboard: every panel queries Prometheus, and only names from the catalogue', () => {
  const dashboard = JSON.parse(readFileSync(join(COLLECTOR_DIR, 'grafana', 'dashboards', 'reloadscope.json'), 'utf8'));
  const catalogueSeries = new Set(METRIC_LIST.flatMap((d) => prometheusSeries(d)));
  const panels = dashboardExpressions(dashboard);
  assert.ok(panels.length >= 12, `expected the full dashboard, got ${panels.length} panels`);
  const used = new Set<string>();
  for (const panel of panels) {
    assert.ok(panel.exprs.length > 0, `panel "${panel.title}" has no PromQL target`);
    for (const expr of panel.exprs) {
      const names = metricNamesIn(expr);
      assert.ok(names.length > 0, `panel "${panel.title}" queries no hotreload series: ${expr}`);
      for (const name of names) {
        assert.ok(catalogueSeries.has(name), `panel "${panel.title}" uses ${name}, not in the catalogue`);
        used.add(name.replace(/_(bucket|sum|count|total)$/, ''));
      }
    }
  }
  // Every instrument of the catalogue is on the dashboard.
  for (const def of METRIC_LIST) {
    assert.ok(used.has(def.prometheus), `no panel shows ${def.prometheus}`);
  }
  // Its variables list values of a catalogue series' own labels.
  for (const v of dashboardVariables(dashboard)) {
    const names = metricNamesIn(v.selector);
    assert.ok(names.length > 0 && names.every((n) => catalogueSeries.has(n)), `variable ${v.name} reads ${names.join(', ')}`);
    assert.ok(['job', 'instance'].includes(v.label) || ATTRIBUTES_AS_LABELS.has(v.label), `variable ${v.name} lists ${v.label}`);
  }
  // Label names used in the dashboard are the catalogue's attributes, not made-up ones.
  for (const panel of panels) {
    for (const expr of panel.exprs) {
      for (const label of expr.match(/\bhotreload_[a-z_]+(?=\s*(=|!=|=~|!~|[,)]))/g) ?? []) {
        if (catalogueSeries.has(label)) continue;
        assert.ok(ATTRIBUTES_AS_LABELS.has(label), `panel "${panel.title}" uses unknown label ${label}`);
      }
    }
  }
});

test('Grafana provisioning points at the dashboard folder and the datasource uid the dashboard uses', () => {
  const prov = join(COLLECTOR_DIR, 'grafana', 'provisioning');
  const ds = parse(readFileSync(join(prov, 'datasources', 'prometheus.yml'), 'utf8'));
  const dashboards = parse(readFileSync(join(prov, 'dashboards', 'reloadscope.yml'), 'utf8'));
  assert.equal(ds.datasources[0].type, 'prometheus');
  const dashboard = JSON.parse(readFileSync(join(COLLECTOR_DIR, 'grafana', 'dashboards', 'reloadscope.json'), 'utf8'));
  const dsVar = dashboard.templating.list.find((v: { name: string }) => v.name === 'datasource');
  assert.equal(dsVar.current.value, ds.datasources[0].uid);
  const compose = parse(readFileSync(join(COLLECTOR_DIR, 'docker-compose.yml'), 'utf8'));
  const grafanaMounts: string[] = compose.services.grafana.volumes;
  const path = dashboards.providers[0].options.path;
  assert.ok(
    grafanaMounts.some((v) => v.split(':')[1] === path && v.split(':')[0] === './grafana/dashboards'),
    `provider path ${path} is not where docker-compose mounts the dashboards`,
  );
});
