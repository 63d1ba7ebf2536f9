import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import cluster from 'node:cluster';
import { writeRelease } from '@reloadscope/config';
import { superviseCluster } from '../src/index.ts';
import { checkClusterOptions } from '../src/options.ts';
import { resolveRelease } from '../src/release.ts';
import { activate, appSource, eventually, freePort, get, load, tempDir, writeApp } from './harness.ts';
import { startCli } from './cli-harness.ts';

test('a release is resolved once to its real directory, and verified with config\'s bundle checks when a key or manifest is there', async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  await writeRelease(root, 'signed', { 'server.mjs': appSource('signed') }, { privateKey });
  await writeRelease(root, 'unsigned', { 'server.mjs': appSource('unsigned') });
  await writeRelease(root, 'tampered', { 'server.mjs': appSource('tampered') });
  await writeFile(join(root, 'releases', 'tampered', 'server.mjs'), appSource('evil'));
  await symlink(join('releases', 'signed'), join(root, 'current'));

  const ok = await resolveRelease(join(root, 'current'), 'server.mjs', { publicKey: pub, serial: undefined });
  assert.equal(ok.version, 'signed');
  assert.equal(ok.dir, join(await realpath(root), 'releases', 'signed'));
  assert.match(ok.hash, /^[0-9a-f]{64}$/);
  // A manifest alone (no key) still has every file checked.
  await assert.rejects(resolveRelease(join(root, 'releases', 'tampered'), 'server.mjs', { publicKey: undefined, serial: undefined }), { code: 'checksum_mismatch' });
  await assert.rejects(resolveRelease(join(root, 'releases', 'unsigned'), 'server.mjs', { publicKey: pub, serial: undefined }), (err: { code?: string }) => typeof err.code === 'string' && err.code !== 'release_invalid');
  await assert.rejects(resolveRelease(join(root, 'nowhere'), 'server.mjs', { publicKey: undefined, serial: undefined }), { code: 'release_invalid' });
  await assert.rejects(resolveRelease(join(root, 'releases', 'signed'), '../unsigned/server.mjs', { publicKey: undefined, serial: undefined }), { code: 'release_invalid' });
  await assert.rejects(resolveRelease(join(root, 'releases', 'signed'), 'missing.mjs', { publicKey: undefined, serial: undefined }), { code: 'release_invalid' });
});

test('a first generation that does not start makes superviseCluster reject with its error.type, leaving no worker', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  await writeApp(root, 'broken', "throw new Error('broken at import');\n");
  await activate(root, 'broken');
  const port = await freePort();
  await assert.rejects(
    superviseCluster({ release: join(root, 'current'), entry: 'server.mjs', workers: 2, env: { PORT: String(port) }, signal: false }),
    { code: 'worker_exited' },
  );
  assert.deepEqual(Object.keys(cluster.workers ?? {}), [], 'no worker left behind');
});

test('rollback protection: an older, validly signed release is refused with version_rollback while the active one serves under load; the floor survives a restart in the state file', { timeout: 90_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  const state = join(await tempDir(t, 'rs-cluster-state-'), 'serial.json');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  for (const [version, serial] of [['r1', 1], ['r2', 2], ['r3', 3]] as const) await writeRelease(root, version, { 'server.mjs': appSource(version) }, { serial, privateKey });
  await activate(root, 'r2');
  const options = { publicKey: pub, serial: { stateFile: state } };
  const port = await freePort();
  const supervisor = await superviseCluster({ release: join(root, 'current'), entry: 'server.mjs', workers: 2, env: { PORT: String(port) }, signal: false, stabilizeMs: 200, ...options });
  t.after(() => supervisor.close());
  assert.deepEqual(JSON.parse(await readFile(state, 'utf8')).serial, 2, 'the serial of the running release is recorded');
  const traffic = load(port, 3);
  t.after(() => traffic.stop());

  await activate(root, 'r1'); // a writer of the bundle root puts an old, validly signed release back
  const refused = await supervisor.upgrade();
  assert.equal(refused.outcome, 'failure');
  assert.equal(refused.error?.code, 'version_rollback', refused.error?.message);
  assert.equal(supervisor.release.version, 'r2');
  assert.equal((await get(port, '/')).body, 'r2');

  await activate(root, 'r3');
  assert.equal((await supervisor.upgrade()).outcome, 'success');
  await traffic.stop();
  const failed = traffic.samples.filter((s) => s.error !== undefined || s.status !== 200 || !['r2', 'r3'].includes(s.body!));
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${traffic.samples.length} requests failed or reached r1`);
  assert.equal(JSON.parse(await readFile(state, 'utf8')).serial, 3);
  await supervisor.close();

  // A restart trusts the state file, not whatever `current` points at.
  await activate(root, 'r2');
  await assert.rejects(
    superviseCluster({ release: join(root, 'current'), entry: 'server.mjs', workers: 1, env: { PORT: String(await freePort()) }, signal: false, ...options }),
    { code: 'version_rollback' },
  );
  assert.deepEqual(Object.keys(cluster.workers ?? {}), [], 'no worker left behind');
});

test('rollback protection options: serial needs a publicKey and is checked before anything starts', () => {
  const base = { release: '/srv/app', entry: 'server.js' };
  assert.throws(() => checkClusterOptions({ ...base, serial: true } as never, 1), (err: Error) => err instanceof TypeError && /options\.serial needs a publicKey/.test(err.message));
  assert.throws(() => checkClusterOptions({ ...base, publicKey: 'k', serial: { stateFile: '' } } as never, 1), (err: Error) => err instanceof TypeError && /options\.serial\.stateFile/.test(err.message));
  assert.throws(() => checkClusterOptions({ ...base, publicKey: 'k', serial: 'yes' } as never, 1), (err: Error) => err instanceof TypeError && /options\.serial/.test(err.message));
  assert.deepEqual(checkClusterOptions({ ...base, publicKey: 'k', serial: { stateFile: '/var/lib/app/serial.json' } } as never, 1).serial, { stateFile: '/var/lib/app/serial.json' });
});

test('reloadscope-cluster --public-key --serial-state: a signed older release is refused (version_rollback) with the active one serving, and a restarted supervisor refuses it too', { timeout: 90_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  const dir = await tempDir(t, 'rs-cluster-state-');
  const state = join(dir, 'serial.json');
  const keyFile = join(dir, 'release-key.pub.pem');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  await writeFile(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  for (const [version, serial] of [['r1', 1], ['r2', 2]] as const) await writeRelease(root, version, { 'server.mjs': appSource(version) }, { serial, privateKey });
  await activate(root, 'r2');
  const args = ['--public-key', keyFile, '--serial-state', state];
  // Spans on stdout (the console exporter): the refusal's error.type is on the upgrade's span.
  const traced = { OTEL_TRACES_EXPORTER: 'console', OTEL_BSP_SCHEDULE_DELAY: '100' };
  const first = await startCli(t, root, { args, env: traced });
  await activate(root, 'r1');
  first.child.kill('SIGUSR2');
  const labels = { hotreload_target: 'app-code', hotreload_trigger: 'signal', hotreload_outcome: 'failure' };
  const failures = async () => {
    const text = (await get(first.metricsPort, '/metrics')).body ?? '';
    return text.split('\n').find((l) => l.startsWith('hotreload_reloads_total{') && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  };
  await eventually(async () => (await failures())?.endsWith(' 1'), 'one failed upgrade in the scrape', 30_000);
  await eventually(() => /'error\.type': 'version_rollback'/.test(first.output()), 'the refusal on the upgrade span');
  assert.equal((await get(first.port, '/')).body, 'r2', 'the active release serves');
  first.child.kill('SIGTERM');
  assert.equal((await first.exited).code, 0);

  // Another process, nothing in memory: the state file holds the floor.
  const second = await startCli(t, root, { args, wait: false });
  assert.equal((await second.exited).code, 1, second.output());
  assert.match(second.output(), /version_rollback/);

  const usage = await startCli(t, root, { args: ['--serial-state', state], wait: false });
  assert.equal((await usage.exited).code, 2, 'a serial without a key can be forged: refused as a usage error');
  assert.match(usage.output(), /--serial-state needs --public-key/);
});
