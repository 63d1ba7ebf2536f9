import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, rename, symlink, truncate, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connect, createServer, type Server } from 'node:tls';
import { hashToGauge } from '@reloadscope/core';
import { type TlsWatcher, type WatchTlsOptions, watchTls } from '../src/index.ts';
import { diagnostics, eventually, telemetry, tempDir } from './harness.ts';
import { type Issued, servedPair, TestCA } from '../../../test/support/tls-certs.ts';

const DAY = 86_400_000;

async function listen(t: TestContext, first: Issued): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert: first.cert, key: first.key }, (socket) => socket.end('ok'));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => new Promise<void>((ok) => server.close(() => ok())));
  return { server, port: (server.address() as AddressInfo).port };
}

/** One real handshake; resolves with the serial the server presented. */
function handshake(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ca, servername: 'localhost' }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('handshake timed out')));
    socket.on('error', reject);
  });
}

async function setup(t: TestContext, extra: Partial<WatchTlsOptions> = {}) {
  const dir = await tempDir(t, 'rs-tls-');
  const { ca, first, cert, key } = await servedPair(dir);
  const files = { cert, key, ca: join(dir, 'ca.crt') };
  await writeFile(files.ca, ca.cert);
  const { server, port } = await listen(t, first);
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const diag = diagnostics();
  const tls = await watchTls({ server, ...files, instrumentation: tel.reloads, watch: false, signal: false, onDiagnostic: diag.sink, ...extra });
  t.after(() => tls.close());
  return { dir, ca, first, files, server, port, tel, tls, diag };
}

test('watchTls serves the files, reports the certificate and exports its expiry', async (t) => {
  const { ca, first, port, tel, tls } = await setup(t);
  assert.equal(tls.target, 'tls');
  assert.equal(tls.current.serialNumber, first.serial);
  assert.equal(tls.current.validTo.getTime(), first.notAfter.getTime());
  assert.match(tls.current.subject, /CN=localhost/);
  assert.match(tls.current.issuer, /CN=reloadscope test CA/);
  assert.match(tls.current.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.deepEqual(Object.keys(tls.current).sort(), ['fingerprint256', 'issuer', 'serialNumber', 'subject', 'validFrom', 'validTo']);
  assert.equal(await handshake(port, ca.cert), first.serial);
  assert.equal(await tel.metric('hotreload.tls.not_after', { 'hotreload.target': 'tls' }), first.notAfter.getTime() / 1000);
});

test('a rotated pair is served to new handshakes; spans carry its identity and never key bytes', async (t) => {
  const { ca, files, port, tel, tls } = await setup(t);
  const next = await ca.issue();
  await writeFile(files.cert, next.cert);
  await writeFile(files.key, next.key);
  const result = await tls.reload();
  assert.equal(result.outcome, 'success', JSON.stringify(result.error));
  assert.equal(result.version, next.serial);
  assert.equal(tls.current.serialNumber, next.serial);
  assert.equal(await handshake(port, ca.cert), next.serial);
  assert.equal(await tel.metric('hotreload.tls.not_after', { 'hotreload.target': 'tls' }), next.notAfter.getTime() / 1000);

  const verify = (await tel.spans()).filter((s) => s.name === 'hotreload.verify').at(-1)!;
  assert.equal(verify.attributes['hotreload.tls.serial_number'], next.serial);
  assert.equal(verify.attributes['tls.server.not_after'], next.notAfter.toISOString());
  assert.equal(verify.attributes['tls.server.hash.sha256'], tls.current.fingerprint256);
  assert.match(String(verify.attributes['tls.server.subject']), /CN=localhost/);
  const keyBody = next.key.split('\n').filter((l) => l && !l.startsWith('-----'));
  for (const span of await tel.spans()) {
    const text = JSON.stringify({ a: span.attributes, e: span.events });
    assert.doesNotMatch(text, /PRIVATE KEY/);
    for (const line of keyBody) assert.ok(!text.includes(line), `span ${span.name} carries key material`);
  }
});

test('each bad candidate is refused with its code; the old certificate stays served and counted', async (t) => {
  const { dir, ca, first, files, port, tel, tls } = await setup(t, { minValidityMs: 7 * DAY });
  const other = await TestCA.create(join(dir, 'other-ca'), 'someone else');
  const good = await ca.issue();
  const mismatchedKey = (await ca.issue()).key;
  const cases: Array<{ name: string; code: string; cert: string; key: string; before?: () => Promise<void> }> = [
    { name: 'mismatched pair', code: 'tls_key_mismatch', cert: good.cert, key: mismatchedKey },
    { name: 'expired', code: 'tls_expired', ...(await ca.issue({ notBefore: new Date(Date.now() - 60 * DAY), notAfter: new Date(Date.now() - DAY) })) },
    { name: 'not yet valid', code: 'tls_not_yet_valid', ...(await ca.issue({ notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 90 * DAY) })) },
    { name: 'valid for less than minValidityMs', code: 'tls_validity_too_short', ...(await ca.issue({ notAfter: new Date(Date.now() + 2 * DAY) })) },
    { name: 'signed by another CA', code: 'tls_chain_untrusted', ...(await other.issue()) },
    { name: 'truncated PEM', code: 'tls_cert_invalid', cert: good.cert.slice(0, good.cert.length / 2), key: good.key },
    { name: 'no PEM at all', code: 'tls_cert_invalid', cert: '\u0000\u00ff binary junk', key: good.key },
    { name: 'key is not a key', code: 'tls_key_invalid', cert: good.cert, key: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n' },
  ];
  let failures = 0;
  for (const c of cases) {
    await writeFile(files.cert, c.cert);
    await writeFile(files.key, c.key);
    const result = await tls.reload();
    failures++;
    assert.equal(result.outcome, 'failure', c.name);
    assert.equal(result.error?.code, c.code, `${c.name}: ${result.error?.message}`);
    assert.equal(tls.current.serialNumber, first.serial, c.name);
    assert.equal(await handshake(port, ca.cert), first.serial, `${c.name}: still served`);
  }
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': 'tls', 'hotreload.trigger': 'api', 'hotreload.outcome': 'failure' }), failures);
  assert.equal(await tel.metric('hotreload.tls.not_after', { 'hotreload.target': 'tls' }), first.notAfter.getTime() / 1000);

  // A 50 MiB certificate file is refused while reading, not after.
  await writeFile(files.key, good.key);
  await truncate(files.cert, 50 * 1024 * 1024);
  const huge = await tls.reload();
  assert.equal(huge.error?.code, 'too_large');
  // A FIFO at the key path is refused without parking a thread-pool thread.
  await writeFile(files.cert, good.cert);
  const { rm } = await import('node:fs/promises');
  await rm(files.key);
  execFileSync('mkfifo', [files.key]);
  for (let i = 0; i < 6; i++) {
    const fifo = await tls.reload({ timeoutMs: 2_000 });
    assert.equal(fifo.outcome, 'failure');
    assert.notEqual(fifo.error?.code, 'timeout', 'a FIFO must be refused, not waited on');
  }
  assert.equal(await handshake(port, ca.cert), first.serial);
});

test('the newest refused candidate is exported beside the active one, with why', async (t) => {
  const { ca, files, tel, tls } = await setup(t);
  const expired = await ca.issue({ notBefore: new Date(Date.now() - 60 * DAY), notAfter: new Date(Date.now() - DAY) });
  await writeFile(files.cert, expired.cert);
  await writeFile(files.key, expired.key);
  const refused = await tls.reload();
  assert.equal(refused.error?.code, 'tls_expired');
  const active = refused.hash!;
  assert.ok(refused.candidateHash && refused.candidateHash !== active);
  assert.equal(await tel.metric('hotreload.candidate.hash', { 'hotreload.target': 'tls' }), hashToGauge(refused.candidateHash));
  assert.equal(await tel.metric('hotreload.config.hash', { 'hotreload.target': 'tls' }), hashToGauge(active));
  assert.equal(
    await tel.metric('hotreload.candidate.info', { 'hotreload.target': 'tls', 'hotreload.config.hash': refused.candidateHash, 'error.type': 'tls_expired' }),
    1,
  );
  const good = await ca.issue();
  await writeFile(files.cert, good.cert);
  await writeFile(files.key, good.key);
  const fixed = await tls.reload();
  assert.equal(fixed.outcome, 'success');
  assert.equal(await tel.metric('hotreload.candidate.hash', { 'hotreload.target': 'tls' }), hashToGauge(fixed.hash!));
  assert.equal(await tel.metric('hotreload.candidate.info', { 'hotreload.target': 'tls', 'hotreload.config.hash': fixed.hash!, 'error.type': '' }), 1);
});

test('the first load is strict: a bad pair rejects with its code', async (t) => {
  const dir = await tempDir(t, 'rs-tls-');
  const ca = await TestCA.create(join(dir, 'ca'));
  const a = await ca.issue();
  const b = await ca.issue();
  await writeFile(join(dir, 'tls.crt'), a.cert);
  await writeFile(join(dir, 'tls.key'), b.key);
  const { server } = await listen(t, a);
  await assert.rejects(
    watchTls({ server, cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), watch: false, signal: false }),
    { name: 'ReloadError', code: 'tls_key_mismatch' },
  );
  await assert.rejects(watchTls({ server, cert: join(dir, 'missing.crt'), key: join(dir, 'tls.key'), watch: false, signal: false }), { code: 'not_found' });
  await assert.rejects(watchTls({ server: {} as Server, cert: 'a', key: 'b' }), TypeError);
});

test('a cert written a moment before its key is not refused as a mismatched pair', async (t) => {
  const { ca, files, tls } = await setup(t);
  const next = await ca.issue();
  await writeFile(files.cert, next.cert);
  const reloading = tls.reload();
  await new Promise((r) => setTimeout(r, 120));
  await writeFile(files.key, next.key);
  const result = await reloading;
  assert.equal(result.outcome, 'success', result.error?.code);
  assert.equal(tls.current.serialNumber, next.serial);
});

/** Kubernetes' atomic writer: files in a timestamped dir, `..data` swapped by rename, stable names are symlinks through it. */
async function secretMount(dir: string, pair: Issued): Promise<(next: Issued) => Promise<void>> {
  let n = 0;
  const write = async (p: Issued) => {
    const ts = join(dir, `..2026_12_01_${String(n++).padStart(4, '0')}`);
    await mkdir(ts);
    await writeFile(join(ts, 'tls.crt'), p.cert);
    await writeFile(join(ts, 'tls.key'), p.key);
    await symlink(ts.slice(dir.length + 1), join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  await mkdir(dir, { recursive: true });
  await write(pair);
  await symlink('..data/tls.crt', join(dir, 'tls.crt'));
  await symlink('..data/tls.key', join(dir, 'tls.key'));
  return write;
}

/** Clients handshaking in a loop until stopped; every failure is kept. */
function clients(port: number, ca: string, count: number) {
  const failures: unknown[] = [];
  let handshakes = 0;
  let stop = false;
  const loops = Array.from({ length: count }, async () => {
    while (!stop) {
      try {
        await handshake(port, ca);
        handshakes++;
      } catch (err) {
        failures.push(err);
      }
    }
  });
  return {
    failures,
    get handshakes() {
      return handshakes;
    },
    async stop() {
      stop = true;
      await Promise.all(loops);
    },
  };
}

async function rotateUnderLoad(t: TestContext, tls: TlsWatcher, port: number, ca: TestCA, rotate: (next: Issued) => Promise<void>) {
  const load = clients(port, ca.cert, 4);
  t.after(() => load.stop());
  for (let i = 0; i < 10; i++) {
    const next = await ca.issue();
    await rotate(next);
    await eventually(() => tls.current.serialNumber === next.serial, `rotation ${i + 1} to serial ${next.serial}`);
    assert.equal(await handshake(port, ca.cert), next.serial, `after rotation ${i + 1}, a new handshake presents the new serial`);
  }
  await load.stop();
  assert.deepEqual(load.failures.map(String), [], 'every handshake succeeded');
  assert.ok(load.handshakes > 20, `clients kept handshaking (${load.handshakes})`);
}

test('10 rotations by Secret ..data swap under continuous handshakes: none fails', async (t) => {
  const dir = await tempDir(t, 'rs-tls-');
  const ca = await TestCA.create(join(dir, 'ca'));
  const first = await ca.issue();
  const mount = join(dir, 'secret');
  const rotate = await secretMount(mount, first);
  const { server, port } = await listen(t, first);
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const tls = await watchTls({ server, cert: join(mount, 'tls.crt'), key: join(mount, 'tls.key'), instrumentation: tel.reloads, signal: false, watch: { debounceMs: 50 } });
  t.after(() => tls.close());
  await rotateUnderLoad(t, tls, port, ca, rotate);
  // One reload per swap: cert and key change together.
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': 'tls', 'hotreload.trigger': 'file', 'hotreload.outcome': 'failure' }), 0);
});

test('10 rotations by in-place writes under continuous handshakes: none fails', async (t) => {
  const { ca, first, cert, key, write } = await servedPair(await tempDir(t, 'rs-tls-'));
  const { server, port } = await listen(t, first);
  const tls = await watchTls({ server, cert, key, signal: false, watch: { debounceMs: 50 } });
  t.after(() => tls.close());
  await rotateUnderLoad(t, tls, port, ca, write);
});
