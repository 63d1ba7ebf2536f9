import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import cluster from 'node:cluster';
import { writeRelease } from '@reloadscope/config';
import { superviseCluster } from '../src/index.ts';
import { resolveRelease } from '../src/release.ts';
import { activate, appSource, freePort, tempDir, writeApp } from './harness.ts';

test('a release is resolved once to its real directory, and verified with config\'s bundle checks when a key or manifest is there', async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  await writeRelease(root, 'signed', { 'server.mjs': appSource('signed') }, { privateKey });
  await writeRelease(root, 'unsigned', { 'server.mjs': appSource('unsigned') });
  await writeRelease(root, 'tampered', { 'server.mjs': appSource('tampered') });
  await writeFile(join(root, 'releases', 'tampered', 'server.mjs'), appSource('evil'));
  await symlink(join('releases', 'signed'), join(root, 'current'));

  const ok = await resolveRelease(join(root, 'current'), 'server.mjs', pub);
  assert.equal(ok.version, 'signed');
  assert.equal(ok.dir, join(await realpath(root), 'releases', 'signed'));
  assert.match(ok.hash, /^[0-9a-f]{64}$/);
  // A manifest alone (no key) still has every file checked.
  await assert.rejects(resolveRelease(join(root, 'releases', 'tampered'), 'server.mjs', undefined), { code: 'checksum_mismatch' });
  await assert.rejects(resolveRelease(join(root, 'releases', 'unsigned'), 'server.mjs', pub), (err: { code?: string }) => typeof err.code === 'string' && err.code !== 'release_invalid');
  await assert.rejects(resolveRelease(join(root, 'nowhere'), 'server.mjs', undefined), { code: 'release_invalid' });
  await assert.rejects(resolveRelease(join(root, 'releases', 'signed'), '../unsigned/server.mjs', undefined), { code: 'release_invalid' });
  await assert.rejects(resolveRelease(join(root, 'releases', 'signed'), 'missing.mjs', undefined), { code: 'release_invalid' });
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
