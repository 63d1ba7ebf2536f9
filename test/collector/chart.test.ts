/**
 * The Helm chart (collector/chart), checked with the tools that consume it: `helm lint` and `helm template`,
 * every rendered object against its Kubernetes (or Prometheus Operator) schema, promtool on the
 * PrometheusRule's groups, and the built Collector's `validate` on the Collector configs the chart mounts,
 * started with the arguments the chart gives them. The chart's copies of shipped files must be identical
 * to their sources (scripts/gen-chart.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { parse } from 'yaml';
import { CHART_COPIES, staleCopies } from '../../scripts/chart-files.ts';
import { COLLECTOR_DIR, REPO_ROOT, stackBinaries } from '../e2e/harness.ts';

const run = promisify(execFile);
const CHART = join(COLLECTOR_DIR, 'chart');
const ROOT_URL = new URL(`file://${REPO_ROOT}/`);

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown> & { template?: { spec: PodSpec } };
}
interface Container {
  name: string;
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string }>;
}
interface PodSpec {
  containers: Container[];
  volumes: Array<{ name: string; configMap?: { name: string } }>;
}

async function tool(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd: REPO_ROOT, timeout: 60_000, env, maxBuffer: 16 << 20 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    assert.fail(`${cmd} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}\n${e.message}`);
  }
}

/** The schema class for an apiVersion/kind, from kubernetes-models or @kubernetes-models/prometheus-operator. */
async function modelOf(apiVersion: string, kind: string): Promise<new (o: unknown) => { validate(): void }> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const mod: Record<string, unknown> =
    group === 'monitoring.coreos.com'
      ? await import(`@kubernetes-models/prometheus-operator/${group}/${version}`)
      : await import(group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`);
  const model = mod[kind];
  assert.equal(typeof model, 'function', `no schema for ${apiVersion} ${kind}`);
  return model as new (o: unknown) => { validate(): void };
}

let objects: K8sObject[] = [];
const find = (kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === `rel-${name}`);
  assert.ok(o, `${kind} rel-${name} is rendered`);
  return o;
};
const fileText = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

describe('Helm chart collector/chart', () => {
  before(async () => {
    const { helm } = stackBinaries('helm');
    const out = await tool(helm, ['template', 'rel', CHART, '--namespace', 'observability']);
    objects = parseAllDocuments(out)
      .map((d) => d.toJSON() as K8sObject | null)
      .filter((o): o is K8sObject => o !== null);
  });

  test('every copy the chart ships is byte-identical to its one source', () => {
    assert.ok(CHART_COPIES.length >= 7);
    assert.deepEqual(staleCopies(ROOT_URL), [], 'run `node scripts/gen-chart.ts`');
    // The check notices drift: a copy that differs by one byte is reported.
    const dir = mkdtempSync(join(tmpdir(), 'reloadscope-chart-'));
    try {
      for (const { source, copy } of CHART_COPIES) {
        for (const p of [source, copy]) {
          mkdirSync(join(dir, p, '..'), { recursive: true });
          writeFileSync(join(dir, p), readFileSync(join(REPO_ROOT, source)));
        }
      }
      const drifted = CHART_COPIES[0]!.copy;
      writeFileSync(join(dir, drifted), `${fileText(CHART_COPIES[0]!.source)} `);
      assert.deepEqual(staleCopies(new URL(`file://${dir}/`)), [drifted]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('helm lint passes', async () => {
    const { helm } = stackBinaries('helm');
    assert.match(await tool(helm, ['lint', '--strict', CHART]), /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test('helm template renders the agent DaemonSet, the gateway Deployment, their ConfigMaps, the rule, the dashboard and the example', async () => {
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    for (const want of [
      'DaemonSet/rel-agent',
      'ConfigMap/rel-agent',
      'Deployment/rel-gateway',
      'ConfigMap/rel-gateway',
      'Service/rel-gateway',
      'PrometheusRule/rel-hotreload',
      'ConfigMap/rel-dashboard',
      'Deployment/rel-config-service',
      'ConfigMap/rel-config-service',
    ]) {
      assert.ok(kinds.includes(want), `${want} missing from ${kinds.join(', ')}`);
    }
  });

  test('every rendered object validates against its schema', async () => {
    assert.ok(objects.length >= 10);
    for (const o of objects) {
      const Model = await modelOf(o.apiVersion, o.kind);
      assert.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata.name}`);
    }
    // The validation is real: a broken object is refused.
    const broken = structuredClone(find('Deployment', 'gateway'));
    (broken.spec as { replicas: unknown }).replicas = 'two';
    const Model = await modelOf(broken.apiVersion, broken.kind);
    assert.throws(() => new Model(broken).validate(), /replicas/);
  });

  test('the PrometheusRule carries exactly the rules file, and promtool accepts its groups', async () => {
    const { promtool } = stackBinaries('promtool');
    const rule = find('PrometheusRule', 'hotreload');
    const shipped = parse(fileText('collector/prometheus/rules/hotreload.rules.yml'));
    assert.deepEqual(rule.spec, { groups: shipped.groups });
    const dir = mkdtempSync(join(tmpdir(), 'reloadscope-chart-rules-'));
    try {
      writeFileSync(join(dir, 'rules.yml'), JSON.stringify(rule.spec));
      assert.match(await tool(promtool, ['check', 'rules', join(dir, 'rules.yml')]), /SUCCESS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the dashboard ConfigMap is labelled for the Grafana sidecar and carries exactly the dashboard JSON', () => {
    const cm = find('ConfigMap', 'dashboard');
    assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
    assert.equal(cm.data?.['reloadscope.json'], fileText('collector/grafana/dashboards/reloadscope.json'));
  });

  test('the Collector configs the chart mounts pass the built Collector\'s validate, with the chart\'s arguments', async () => {
    const { otelcol } = stackBinaries('otelcol');
    for (const [kind, name] of [
      ['DaemonSet', 'agent'],
      ['Deployment', 'gateway'],
    ] as const) {
      const pod = find(kind, name).spec!.template!.spec;
      const container = pod.containers[0]!;
      const mount = container.volumeMounts!.find((m) => m.name === 'config')!;
      const cm = find('ConfigMap', pod.volumes.find((v) => v.name === 'config')!.configMap!.name.replace(/^rel-/, ''));
      const dir = mkdtempSync(join(tmpdir(), `reloadscope-chart-${name}-`));
      try {
        for (const [file, text] of Object.entries(cm.data!)) writeFileSync(join(dir, file), text);
        const args = container.args!.map((a) => a.replace(`--config=${mount.mountPath}/`, `--config=${dir}/`));
        assert.ok(args.length >= 2 && args.every((a) => a.startsWith(`--config=${dir}/`)), `${name} args: ${args}`);
        const env = Object.fromEntries((container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
        await tool(otelcol, ['validate', ...args], { ...process.env, ...env, K8S_NODE_NAME: 'node-1' });
        for (const [file, text] of Object.entries(cm.data!)) {
          const source = CHART_COPIES.find((c) => c.copy.endsWith(`/${file}`))!.source;
          assert.equal(text, fileText(source), `${name} ConfigMap ${file} is the shipped file`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test('the example service mounts its ConfigMap as a directory (never subPath) and is found by the agent', () => {
    const deployment = find('Deployment', 'config-service');
    const template = deployment.spec!.template as unknown as { metadata: { annotations: Record<string, string> }; spec: PodSpec };
    const container = template.spec.containers[0]!;
    const configPath = container.env!.find((e) => e.name === 'CONFIG_PATH')!.value!;
    const mount = container.volumeMounts!.find((m) => m.name === 'config')!;
    assert.equal(mount.subPath, undefined);
    assert.equal(join(mount.mountPath, 'config.yaml'), configPath);
    assert.equal(find('ConfigMap', 'config-service').data?.['config.yaml'], fileText('examples/config-service/config.yaml'));
    assert.equal(template.metadata.annotations['prometheus.io/scrape'], 'true');
    assert.equal(template.metadata.annotations['prometheus.io/port'], '9464');
  });
});
