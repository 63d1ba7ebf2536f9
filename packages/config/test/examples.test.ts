import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect } from 'node:tls';
import { TestCA } from '../../../test/support/tls-certs.ts';
import { eventually, tempDir } from './harness.ts';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const SERVICE = here('../examples/service.ts');
const DEPLOY = here('../examples/deploy-bundle.ts');
const TLS_SERVER = here('../examples/tls-server.ts');

test('the README shows the example programs verbatim', async () => {
  const readme = await readFile(here('../README.md'), 'utf8');
  for (const file of [SERVICE, DEPLOY, TLS_SERVER]) {
    const code = (await readFile(file, 'utf8')).trim();
    assert.ok(readme.includes(code), `README is missing the current text of ${file}`);
  }
});

test('examples/service.ts: serves the active config, reloads on edit and SIGHUP, rolls back a port change, exits on SIGTERM', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'config.yaml'), 'greeting: hi\nport: 0\n');
  const token = 'example-token-123';
  const child = spawn(process.execPath, [SERVICE], { cwd: dir, env: { ...process.env, RELOAD_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const lines: string[] = [];
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const line = (re: RegExp) => eventually(() => lines.find((l) => re.test(l)), `${re} (stderr: ${stderr.slice(-500)})`, 30_000);

  const port = Number((await line(/^listening on \d+/)).split(' ')[2]);
  const get = async () => (await fetch(`http://127.0.0.1:${port}/`)).text();
  assert.equal(await get(), 'hi\n');

  await writeFile(join(dir, 'config.yaml'), 'greeting: hello\nport: 0\n');
  await line(/greeting=hello/);
  assert.equal(await get(), 'hello\n');

  await writeFile(join(dir, 'config.yaml'), 'greeting: moved\nport: 1234\n');
  const res = await fetch(`http://127.0.0.1:${port}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { outcome: string; error: { code: string } };
  assert.equal(body.outcome, 'rollback');
  assert.equal(body.error.code, 'subscriber_failed');
  assert.equal(await get(), 'hello\n');

  await writeFile(join(dir, 'config.yaml'), 'greeting: signalled\nport: 0\n');
  child.kill('SIGHUP');
  await line(/greeting=signalled/);
  assert.equal(await get(), 'signalled\n');

  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
});

test('examples/deploy-bundle.ts: activates releases and keeps the last three', async (t) => {
  const dir = await tempDir(t);
  const run = promisify(execFile);
  for (const v of ['r1', 'r2', 'r3', 'r4']) {
    const { stdout } = await run(process.execPath, [DEPLOY, './bundle', v], { cwd: dir, timeout: 30_000 });
    assert.equal(stdout.trim(), `success ${v}`);
  }
  assert.equal(await readlink(join(dir, 'bundle', 'current')), join('releases', 'r4'));
  assert.deepEqual((await readdir(join(dir, 'bundle', 'releases'))).sort(), ['r2', 'r3', 'r4']);
  // A signed release with an older serial (a replayed build) is refused and r4 keeps serving.
  const replay = await run(process.execPath, [DEPLOY, './bundle', 'r0'], { cwd: dir, timeout: 30_000, env: { ...process.env, RELEASE_SERIAL: '1' } }).catch(
    (err: { code: number; stdout: string }) => err,
  );
  assert.equal('code' in replay ? replay.code : 0, 1);
  assert.match(replay.stdout.trim(), /^failure +version_rollback$/);
  assert.equal(await readlink(join(dir, 'bundle', 'current')), join('releases', 'r4'));
});

test('examples/tls-server.ts: serves the pair, refuses a short-lived renewal, serves a good one, exits on SIGTERM', async (t) => {
  const dir = await tempDir(t);
  const ca = await TestCA.create(join(dir, 'ca'));
  const first = await ca.issue();
  await writeFile(join(dir, 'tls.crt'), first.cert);
  await writeFile(join(dir, 'tls.key'), first.key);
  const child = spawn(process.execPath, [TLS_SERVER], { cwd: dir, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const listening = await eventually(() => lines.find((l) => l.startsWith('listening on ')), 'the listening line', 30_000);
  const [, port, serial] = /^listening on (\d+), serving ([0-9A-F]+) until /.exec(listening)!;
  assert.equal(serial, first.serial);
  const served = () =>
    new Promise<string>((ok, fail) => {
      const socket = connect({ host: '127.0.0.1', port: Number(port), ca: ca.cert, servername: 'localhost' }, () => {
        ok(socket.getPeerCertificate().serialNumber);
        socket.end();
      });
      socket.on('error', fail);
    });
  assert.equal(await served(), first.serial);

  const shortLived = await ca.issue({ notAfter: new Date(Date.now() + 3_600_000) });
  await writeFile(join(dir, 'tls.crt'), shortLived.cert);
  await writeFile(join(dir, 'tls.key'), shortLived.key);
  child.kill('SIGHUP');
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal(await served(), first.serial, 'a renewal valid for an hour is refused (minValidityMs is a day)');

  const next = await ca.issue();
  await writeFile(join(dir, 'tls.crt'), next.cert);
  await writeFile(join(dir, 'tls.key'), next.key);
  await eventually(async () => (await served()) === next.serial, 'the renewed certificate to be served');
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
