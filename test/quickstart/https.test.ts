/**
 * config-service with TLS_CERT/TLS_KEY: HTTPS from hot-reloaded certificate files. A renewal on
 * disk is served to the next handshake without a restart, a bad one is refused and counted, and
 * the expiry gauge follows the served certificate.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { get } from 'node:https';
import { connect } from 'node:tls';
import { servedPair } from '../support/tls-certs.ts';
import { sample, scrape, start } from './child.ts';

const example = resolve(import.meta.dirname, '../../examples/config-service');

function servedSerial(url: URL, ca: string): Promise<string> {
  return new Promise((ok, fail) => {
    const socket = connect({ host: '127.0.0.1', port: Number(url.port), ca, servername: 'localhost' }, () => {
      ok(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on('error', fail);
  });
}

function httpsGet(url: URL, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    get(url, { ca, servername: 'localhost' }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    }).on('error', fail);
  });
}

test('config-service serves HTTPS and rotates its certificate without a restart', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'reloadscope-https-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { ca, first, cert, key, write } = await servedPair(dir);
  const configPath = join(dir, 'config.yaml');
  await copyFile(join(example, 'config.yaml'), configPath);

  const service = start(t, 'npm', ['start'], {
    cwd: example,
    env: { CONFIG_PATH: configPath, PORT: '0', OTEL_EXPORTER_PROMETHEUS_PORT: '0', OTEL_TRACES_EXPORTER: 'none', TLS_CERT: cert, TLS_KEY: key },
  });
  await service.waitFor(/^reload tls: success \(startup\)/);
  const url = new URL((await service.waitFor(/config-service listening on (https:\S+)/))[1]!);
  const metrics = (await service.waitFor(/metrics: (http:\S+)/))[1]!;
  assert.equal(await servedSerial(url, ca.cert), first.serial);
  const hello = await httpsGet(new URL('/?name=tls', url), ca.cert);
  assert.equal(hello.status, 200);
  assert.match(hello.body, /"message":"Hello, tls!"/);

  const next = await ca.issue();
  let from = service.lines.length;
  await write(next);
  await service.waitFor(/^reload tls: success \(file\)/, { from });
  assert.equal(await servedSerial(url, ca.cert), next.serial);
  assert.equal(sample(await scrape(metrics), 'hotreload_tls_not_after_timestamp_seconds', { hotreload_target: 'tls' }), next.notAfter.getTime() / 1000);

  // A renewal whose key does not match is refused; the current certificate keeps being served.
  from = service.lines.length;
  await writeFile(cert, (await ca.issue()).cert);
  await service.waitFor(/^reload tls: failure \(file\).*tls_key_mismatch/, { from, timeoutMs: 15_000 });
  assert.equal(await servedSerial(url, ca.cert), next.serial);
  const text = await scrape(metrics);
  assert.equal(sample(text, 'hotreload_tls_not_after_timestamp_seconds', { hotreload_target: 'tls' }), next.notAfter.getTime() / 1000);
  assert.equal(sample(text, 'hotreload_candidate_info', { hotreload_target: 'tls', error_type: 'tls_key_mismatch' }), 1);
});
