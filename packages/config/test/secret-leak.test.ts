import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually } from './harness.ts';

const CHILD = fileURLToPath(new URL('./fixtures/leak-child.ts', import.meta.url));

test('a marker secret in valid, broken and schema-violating configs reaches no span, metric or log line', async (t) => {
  const marker = `LEAKMARKER${randomBytes(16).toString('hex')}`;
  const otlpBodies: string[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      otlpBodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => receiver.close(() => r())));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`;

  const child = spawn(process.execPath, [CHILD, url, marker], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let ready: { metricsPort: number; outcomes: string[]; goodHash: string } | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout += `${line}\n`;
    if (line.startsWith('{"ready"')) ready = JSON.parse(line);
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const state = await eventually(() => ready, `the child scenario (stderr: ${stderr.slice(-1000)})`, 45_000);
  const scrape = await (await fetch(`http://127.0.0.1:${state.metricsPort}/metrics`)).text();
  child.stdin.write('exit\n');
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 20_000).unref())]);
  assert.equal(code, 0, stderr);

  // The scenario really ran every path.
  assert.deepEqual(state.outcomes, [
    'success:',
    'failure:parse_error',
    'failure:parse_error',
    'failure:schema_violation',
    'failure:schema_violation',
    'success:',
    'failure:bad_signature',
    'failure:parse_error',
    'rollback:subscriber_failed',
    'failure:parse_error',
    'success:',
  ]);
  assert.match(stdout, /active password is the marker: true/, 'the config really held the marker');
  // The channels were live: spans and metrics were exported and logs were written.
  const spans = otlpBodies.join('\n');
  assert.ok(spans.includes(state.goodHash), 'spans carry hashes');
  assert.ok(spans.includes('schema_violation') && spans.includes('subscriber_failed'), 'spans carry error types');
  assert.match(scrape, /hotreload_reloads_total\{[^}]*hotreload_outcome="failure"/);
  assert.match(stdout, /diagnostic reload_rejected/);

  for (const [channel, text] of [
    ['OTLP span export', spans],
    ['Prometheus scrape', scrape],
    ['stdout (logs, diagnostics)', stdout],
    ['stderr (diag logger, process warnings)', stderr],
  ] as const) {
    assert.ok(!text.includes(marker), `${channel} contains the secret marker`);
  }
});
