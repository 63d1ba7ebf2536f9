import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acceptBundleRelease, activateBundle, activeBundleVersion, CURRENT, checkBundleSerialOption, RELEASES, verifyBundle, watchConfig, writeRelease } from '../src/index.ts';
import { eventually, sleep, telemetry, tempDir } from './harness.ts';

const files = (tag: string) => ({ 'config.yaml': `tag: ${tag}\n`, 'rules/r.json': JSON.stringify({ tag }) });

test('activate verifies the manifest, switches current atomically and prunes beyond keep', async (t) => {
  const root = await tempDir(t);
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const activate = (version: string, keep = 2) => activateBundle({ root, version, keep, instrumentation: tel.reloads, target: 'rules' });

  await writeRelease(root, 'v1', files('one'));
  const first = await activate('v1');
  assert.equal(first.outcome, 'success');
  assert.equal(first.version, 'v1');
  assert.equal(await activeBundleVersion(root), 'v1');
  assert.equal(await realpath(join(root, CURRENT)), await realpath(join(root, RELEASES, 'v1')));
  const stageNames = (await tel.spans()).filter((s) => s.parentSpanContext?.spanId === first.spanId).map((s) => s.name);
  assert.deepEqual(stageNames, ['hotreload.load', 'hotreload.verify', 'hotreload.switch', 'hotreload.unload']);

  // Same content again: nothing to do.
  assert.equal((await activate('v1')).outcome, 'unchanged');

  for (const v of ['v2', 'v3', 'v4']) {
    await writeRelease(root, v, files(v));
    await sleep(15); // distinct activation mtimes
    const r = await activate(v);
    assert.equal(r.outcome, 'success', v);
    assert.equal(r.previousHash !== undefined, true);
  }
  assert.deepEqual((await readdir(join(root, RELEASES))).sort(), ['v3', 'v4']);
  assert.equal((await verifyBundle(root, 'v4')).files, 2);
  assert.equal(await tel.metric('hotreload.generation', { 'hotreload.target': 'rules' }), 4);
});

test('a corrupted, incomplete or escaping release is refused and current stays put', async (t) => {
  const root = await tempDir(t);
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const activate = (version: string) => activateBundle({ root, version, instrumentation: tel.reloads, target: 'rules' });
  await writeRelease(root, 'good', files('good'));
  assert.equal((await activate('good')).outcome, 'success');

  const corrupt = await writeRelease(root, 'corrupt', files('corrupt'));
  await writeFile(join(corrupt, 'rules/r.json'), '{"tampered":true}');
  const r1 = await activate('corrupt');
  assert.equal(r1.outcome, 'failure');
  assert.equal(r1.error?.code, 'checksum_mismatch');
  assert.equal(r1.error?.stage, 'verify');

  const incomplete = await writeRelease(root, 'incomplete', files('incomplete'));
  await rm(join(incomplete, 'manifest.json'));
  assert.equal((await activate('incomplete')).error?.code, 'bundle_invalid');

  const missingFile = await writeRelease(root, 'missing', files('missing'));
  await rm(join(missingFile, 'config.yaml'));
  assert.equal((await activate('missing')).error?.code, 'bundle_invalid');

  const escaping = await writeRelease(root, 'escape', files('escape'));
  await writeFile(join(escaping, 'manifest.json'), JSON.stringify({ files: { '../good/config.yaml': 'a'.repeat(64) } }));
  assert.equal((await activate('escape')).error?.code, 'bundle_invalid');

  assert.equal((await activate('absent')).error?.code, 'bundle_invalid');
  assert.throws(() => activateBundle({ root, version: '../x' }), TypeError);
  assert.equal(await activeBundleVersion(root), 'good');
  assert.equal((await verifyBundle(root, 'good')).version, 'good');
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': 'rules', 'hotreload.trigger': 'api', 'hotreload.outcome': 'failure' }), 5);
});

test('SIGKILL at random points during bundle switches always leaves current at a complete, verified version', async (t) => {
  const root = await tempDir(t);
  await writeRelease(root, 'v0', files('zero'));
  assert.equal((await activateBundle({ root, version: 'v0' })).outcome, 'success');
  const child = fileURLToPath(new URL('./fixtures/bundle-child.ts', import.meta.url));
  const seen = new Set<string>();
  // Bounded by count and by wall time, so a loaded CI machine still finishes well under a minute.
  const started = Date.now();
  let iterations = 0;
  while (iterations < 20 && (iterations < 6 || Date.now() - started < 15_000)) {
    iterations += 1;
    const proc = spawn(process.execPath, [child, root], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => proc.kill('SIGKILL'));
    let stderr = '';
    proc.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_c, s) => resolve(s)));
    await new Promise<void>((resolve, reject) => {
      proc.stdout.once('data', () => resolve());
      proc.once('exit', () => reject(new Error(`child exited early: ${stderr}`)));
    });
    await sleep(5 + Math.floor(Math.random() * 120));
    proc.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL', `the child was still switching when killed (${stderr})`);

    const version = await activeBundleVersion(root);
    assert.ok(version, 'current exists');
    const verified = await verifyBundle(root, version); // throws if incomplete or corrupt
    assert.equal(verified.version, version);
    assert.equal(await realpath(join(root, CURRENT)), await realpath(verified.dir));
    seen.add(version);
  }
  // The kills landed while versions were really changing, not before the first switch.
  assert.ok(seen.size >= Math.max(2, iterations / 4), `only ${seen.size} distinct versions seen in ${iterations} kills`);
});

test('watchConfig on <root>/current/<file> follows bundle activations (the current symlink swap)', async (t) => {
  const root = await tempDir(t);
  await writeRelease(root, 'v1', files('one'));
  assert.equal((await activateBundle({ root, version: 'v1' })).outcome, 'success');
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const diagnostics: string[] = [];
  const config = await watchConfig<{ tag: string }>({
    path: join(root, CURRENT, 'config.yaml'),
    instrumentation: tel.reloads,
    signal: false,
    watch: { debounceMs: 50 },
    onDiagnostic: (d) => diagnostics.push(d.code),
  });
  t.after(() => config.close());
  assert.deepEqual(config.current, { tag: 'one' });
  for (const [i, tag] of ['two', 'three', 'four'].entries()) {
    await writeRelease(root, tag, files(tag));
    // keep: 1 removes the release directory the watcher started in.
    assert.equal((await activateBundle({ root, version: tag, keep: 1 })).outcome, 'success');
    await eventually(() => config.current.tag === tag, `release ${tag} to be loaded`);
    assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': 'config.yaml', 'hotreload.trigger': 'file', 'hotreload.outcome': 'success' }), i + 1);
  }
  assert.deepEqual(diagnostics, []);
});

test('a deployer that switches by other means records what went live with acceptBundleRelease: lower serials are refused from then on, in this process and through the state file', async (t) => {
  const root = await tempDir(t);
  const state = join(await tempDir(t), 'serial.json');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  for (const [version, serial] of [['v1', 1], ['v2', 2], ['v3', 3]] as const) await writeRelease(root, version, files(version), { serial, privateKey });
  await writeRelease(root, 'plain', files('plain'), { privateKey });
  const verify = { publicKey, serial: { stateFile: state } };

  const v2 = await verifyBundle(root, 'v2', { verify });
  assert.equal(v2.serial, 2, 'the signed serial comes back with the verification');
  // Verified is not live: nothing is refused until the release is accepted.
  assert.equal((await verifyBundle(root, 'v1', { verify })).serial, 1);
  await acceptBundleRelease(root, v2, { stateFile: state });
  assert.deepEqual(JSON.parse(await readFile(state, 'utf8')), { serial: 2, hash: v2.hash });
  await assert.rejects(verifyBundle(root, 'v1', { verify }), { code: 'version_rollback' });
  await assert.rejects(verifyBundle(root, 'v1', { verify: { publicKey, serial: true } }), { code: 'version_rollback' }, 'the in-process floor, without the file');
  assert.equal((await verifyBundle(root, 'v2', { verify })).serial, 2, 'the same release again');
  assert.equal((await verifyBundle(root, 'v3', { verify })).serial, 3);
  // A release without a serial records nothing (and is refused under rollback protection anyway).
  await acceptBundleRelease(root, await verifyBundle(root, 'plain', { verify: { publicKey } }), { stateFile: state });
  assert.equal(JSON.parse(await readFile(state, 'utf8')).serial, 2);
  await assert.rejects(verifyBundle(root, 'plain', { verify }), { code: 'bundle_invalid' });

  assert.deepEqual(checkBundleSerialOption({ stateFile: state }, 'x.serial', true), { stateFile: state });
  assert.deepEqual(checkBundleSerialOption(true, 'x.serial', true), {});
  assert.equal(checkBundleSerialOption(undefined, 'x.serial', true), undefined);
  assert.throws(() => checkBundleSerialOption(true, 'x.serial', false), /x\.serial needs a publicKey/);
  assert.throws(() => checkBundleSerialOption({ stateFile: 7 }, 'x.serial', true), /x\.serial\.stateFile must be a non-empty string/);
});
