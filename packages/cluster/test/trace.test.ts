import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { activate, eventually, freePort, tempDir, writeApp } from './harness.ts';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>;
}

/** A real OTLP/HTTP JSON receiver on loopback: what the primary and the workers export. */
async function otlpReceiver(t: { after(fn: () => unknown): void }) {
  const spans: OtlpSpan[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      try {
        const data = JSON.parse(body) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: OtlpSpan[] }> }> };
        for (const rs of data.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      } catch {
        // Not JSON: ignored, and the assertions below will say what is missing.
      }
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return { spans, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces` };
}

const attr = (s: OtlpSpan, key: string) => s.attributes?.find((a) => a.key === key)?.value;

test('an upgrade\'s trace includes the new workers\' start-up spans as children of its load stage', { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  await writeApp(root, 'a');
  await writeApp(root, 'b');
  await activate(root, 'a');
  const receiver = await otlpReceiver(t);
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, '--release', join(root, 'current'), '--entry', 'server.mjs', '--workers', '2'], {
    env: {
      ...process.env,
      PORT: String(port),
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: '0',
      RELOADSCOPE_RUNTIME_METRICS: 'false',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await eventually(() => out.includes('workers running'), 'the supervisor to start');
  await activate(root, 'b');
  child.kill('SIGUSR2');

  const upgrade = await eventually(() => {
    const root = receiver.spans.find((s) => s.name === 'hotreload' && attr(s, 'hotreload.trigger')?.stringValue === 'signal');
    if (!root) return undefined;
    const inTrace = receiver.spans.filter((s) => s.traceId === root.traceId);
    const load = inTrace.find((s) => s.name === 'hotreload.load' && s.parentSpanId === root.spanId);
    const starts = inTrace.filter((s) => s.name === 'hotreload.cluster.worker.start');
    const unload = inTrace.find((s) => s.name === 'hotreload.unload');
    return load && unload && starts.length === 2 ? { root, load, starts, inTrace } : undefined;
  }, 'the upgrade trace with both workers\' start-up spans', 30_000);
  for (const s of upgrade.starts) assert.equal(s.parentSpanId, upgrade.load.spanId, 'a worker start-up span is a child of the load stage');
  assert.deepEqual(upgrade.starts.map((s) => Number(attr(s, 'hotreload.cluster.worker.slot')?.intValue)).sort(), [0, 1]);
  for (const stage of ['hotreload.load', 'hotreload.verify', 'hotreload.switch', 'hotreload.unload']) {
    assert.ok(upgrade.inTrace.some((s) => s.name === stage && s.parentSpanId === upgrade.root.spanId), stage);
  }
  child.kill('SIGTERM');
  await once(child, 'exit');
});
