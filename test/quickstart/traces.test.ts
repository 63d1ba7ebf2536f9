/**
 * config-service with OTEL_EXPORTER_OTLP_ENDPOINT set: each reload reaches the "Collector" (here a
 * real HTTP server receiving the exporter's OTLP/HTTP JSON) as a trace with a span per stage, and
 * config values never travel, not even inside a parser's error message.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { eventually, start } from './child.ts';

const example = resolve(import.meta.dirname, '../../examples/config-service');

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
}
interface OtlpSpan {
  name: string;
  attributes?: Array<{ key: string; value: OtlpValue }>;
  status?: { code?: number };
}
interface OtlpExport {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: OtlpValue }> };
    scopeSpans: Array<{ spans: OtlpSpan[] }>;
  }>;
}

const attr = (span: OtlpSpan, key: string) => span.attributes?.find((a) => a.key === key)?.value.stringValue;

test('config-service exports one trace per reload to the OTLP endpoint, without config values', { timeout: 60_000 }, async (t) => {
  const bodies: string[] = [];
  const collector = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      if (req.url === '/v1/traces') bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((done) => collector.listen(0, '127.0.0.1', done));
  t.after(() => new Promise<void>((done) => collector.close(() => done())));
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;

  const dir = await mkdtemp(join(tmpdir(), 'reloadscope-traces-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'config.yaml');
  await copyFile(join(example, 'config.yaml'), configPath);
  const original = await readFile(configPath, 'utf8');

  const service = start(t, 'npm', ['start'], {
    cwd: example,
    env: { CONFIG_PATH: configPath, PORT: '0', OTEL_EXPORTER_PROMETHEUS_PORT: '0', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'config-service' },
  });
  const pid = Number((await service.waitFor(/send SIGHUP to pid (\d+)/))[1]);

  // Values that must never leave the process: a good one, and one inside a YAML syntax error.
  const secret = `s3cr3t-${randomBytes(6).toString('hex')}`;
  let from = service.lines.length;
  await writeFile(configPath, original.replace(/^greeting: .+$/m, `greeting: ${secret}`));
  await service.waitFor(/^reload app-config: success \(file\)/, { from });
  from = service.lines.length;
  await writeFile(configPath, original.replace(/^greeting: .+$/m, `greeting: "${secret}-broken\n  : [`));
  await service.waitFor(/^reload app-config: failure \(file\) .*parse_error/, { from });

  // SIGTERM: register flushes the batch, then the process ends by the signal as usual.
  process.kill(pid, 'SIGTERM');
  await service.exited;
  await eventually(() => bodies.length > 0, 'the exported spans', 10_000);

  for (const body of bodies) assert.ok(!body.includes(secret), 'a config value reached the exported spans');
  const exports = bodies.map((b) => JSON.parse(b) as OtlpExport);
  const resources = exports.flatMap((e) => e.resourceSpans);
  for (const r of resources) {
    assert.equal(r.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue, 'config-service');
  }
  const spans = resources.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  const roots = spans.filter((s) => s.name === 'hotreload');
  const summary = roots.map((s) => `${attr(s, 'hotreload.trigger')}:${attr(s, 'hotreload.outcome')}`);
  assert.deepEqual(summary.sort(), ['file:failure', 'file:success', 'startup:success']);
  for (const root of roots) assert.equal(attr(root, 'hotreload.target'), 'app-config');

  const failed = roots.find((s) => attr(s, 'hotreload.outcome') === 'failure')!;
  assert.equal(failed.status?.code, 2, 'a failed reload is an ERROR span');
  assert.equal(attr(failed, 'error.type'), 'parse_error');
  // Stage spans: load → verify → switch → unload for each success, and the failed load.
  const stageNames = spans.filter((s) => s.name.startsWith('hotreload.')).map((s) => s.name);
  for (const stage of ['load', 'verify', 'switch', 'unload']) {
    assert.ok(stageNames.filter((n) => n === `hotreload.${stage}`).length >= 2, `hotreload.${stage} spans: ${stageNames.join(', ')}`);
  }
  assert.equal(stageNames.filter((n) => n === 'hotreload.load').length, 3);
});
