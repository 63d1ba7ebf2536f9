// Bundles under hostile conditions: stray entries and undeletable releases in releases/,
// releases that reach outside themselves, manifest paths, signatures and rollback protection.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, sign } from 'node:crypto';
import { link, mkdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test, type TestContext } from 'node:test';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { sha256Hex } from '@reloadscope/core';
import fc from 'fast-check';
import {
  activateBundle,
  activeBundleVersion,
  CONFIG_ERROR_CODES,
  CURRENT,
  ConfigError,
  MANIFEST,
  MANIFEST_SIGNATURE,
  RELEASES,
  verifyBundle,
  writeRelease,
} from '../src/index.ts';
import { diagnostics, sleep, telemetry, tempDir } from './harness.ts';
import { seriesValue, testMeterProvider } from '../../../test/support/metrics.ts';

const files = (tag: string) => ({ 'config.yaml': `tag: ${tag}\n`, 'rules/r.json': JSON.stringify({ tag }) });
const FC_SEED = process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) };

/** A bundle root with one active release `v1`, and an activate() wired to real telemetry. */
async function bundle(t: TestContext, options: { keep?: number } = {}) {
  const root = await tempDir(t, 'rs-bundle-');
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const diags = diagnostics();
  const activate = (version: string, extra: Partial<Parameters<typeof activateBundle>[0]> = {}) =>
    activateBundle({
      root,
      version,
      keep: options.keep ?? 1,
      instrumentation: tel.reloads,
      target: 'rules',
      onDiagnostic: diags.sink,
      meterProvider: tel.meterProvider,
      ...extra,
    });
  return { root, tel, diags, activate };
}

// ---------------------------------------------------------------- item 6: pruning

test('stray entries in releases/ (.gitkeep, a README, a dot-directory, a symlink) never roll a deploy back and are left alone', async (t) => {
  const { root, tel, diags, activate } = await bundle(t);
  const releases = join(root, RELEASES);
  await mkdir(releases, { recursive: true });
  // Older than every release, so they would be the first pruned if they counted as releases.
  await writeFile(join(releases, '.gitkeep'), '');
  await writeFile(join(releases, 'README.md'), 'releases live here\n');
  await mkdir(join(releases, '.staging'));
  await symlink('/nonexistent-elsewhere', join(releases, 'elsewhere'));
  await sleep(15);
  for (const v of ['v1', 'v2', 'v3']) {
    await writeRelease(root, v, files(v));
    await sleep(15);
    const r = await activate(v);
    assert.equal(r.outcome, 'success', `${v}: ${r.error?.code} ${r.error?.message}`);
  }
  assert.equal(await activeBundleVersion(root), 'v3');
  const left = execFileSync('ls', ['-A', releases], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
  assert.deepEqual(left, ['.gitkeep', '.staging', 'README.md', 'elsewhere', 'v2', 'v3']);
  assert.deepEqual(diags.seen, []);
  assert.equal(await tel.metric('hotreload.bundle.prune_failures', { 'hotreload.target': 'rules' }), 0);
});

/**
 * Make `path` undeletable even for root (the immutable attribute). Returns the undo, or undefined
 * when the filesystem cannot. The caller undoes it in `finally`: after-hooks run in registration
 * order, so one registered here would run after the temp dir's removal had already failed.
 */
function makeImmutable(path: string): (() => void) | undefined {
  try {
    execFileSync('chattr', ['+i', path], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return () => execFileSync('chattr', ['-i', path], { stdio: 'ignore' });
}

test('an old release that cannot be deleted is reported (prune_failed, counted, on the span) and the switch stays success', async (t) => {
  const { root, tel, diags, activate } = await bundle(t);
  const stuck = await writeRelease(root, 'v1', files('v1'));
  const undo = makeImmutable(join(stuck, 'rules/r.json'));
  if (!undo) return t.skip('chattr +i is not available here');
  // The counter goes to the provider given (here one with a real Prometheus endpoint as well).
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const { reader, meterProvider } = testMeterProvider({ readers: [prometheus] });
  t.after(() => meterProvider.shutdown());
  const server = createServer((req, res) => prometheus.getMetricsRequestHandler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  try {
    await deployPastStuckRelease(root, tel, diags, (v) => activate(v, { meterProvider }));
  } finally {
    undo();
  }
  assert.equal(await seriesValue(reader, 'hotreload.bundle.prune_failures', { 'hotreload.target': 'rules' }), 2);
  const exposition = await (await fetch(url)).text();
  assert.match(exposition, /^hotreload_bundle_prune_failures_total\{hotreload_target="rules"[^}]*\} 2$/m);
});

async function deployPastStuckRelease(
  root: string,
  tel: ReturnType<typeof telemetry>,
  diags: ReturnType<typeof diagnostics>,
  activate: (version: string) => ReturnType<typeof activateBundle>,
): Promise<void> {
  assert.equal((await activate('v1')).outcome, 'success');
  for (const v of ['v2', 'v3', 'v4']) {
    await writeRelease(root, v, files(v));
    await sleep(15);
    const r = await activate(v);
    assert.equal(r.outcome, 'success', `${v}: ${r.error?.code} ${r.error?.message}`);
    assert.equal(r.version, v);
    assert.equal(await activeBundleVersion(root), v);
  }
  // v1 cannot go (reported on every later deploy); v2 was still pruned after it failed.
  const reported = diags.seen.filter((d) => d.code === 'prune_failed');
  assert.equal(reported.length, 2, JSON.stringify(diags.seen));
  // The errno is whatever rm(2) hit first (EPERM, or ENOTDIR from the recursive walk).
  for (const d of reported) assert.match(d.message, /^rules: could not prune v1 \([A-Z]+\); the switch stands/);
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': 'rules', 'hotreload.trigger': 'api', 'hotreload.outcome': 'success' }), 4);
  const events = (await tel.spans()).filter((s) => s.name === 'hotreload.unload').flatMap((s) => s.events);
  assert.equal(events.filter((e) => e.name === 'hotreload.bundle.prune_failed').length, 2);
  assert.deepEqual(events[0]?.attributes, { 'error.type': 'prune_failed', 'hotreload.config.version': 'v1' });
  // The half-removed release lost its manifest first, so it can never be activated again.
  assert.equal((await activate('v1')).error?.code, 'bundle_invalid');
  assert.ok(CONFIG_ERROR_CODES.includes('prune_failed'));
}

// ---------------------------------------------------------------- item 7: containment

test('a release whose files or directories are symlinks resolving outside it is refused (bundle_invalid); the old release keeps serving; inside symlinks are fine', async (t) => {
  const { root, activate } = await bundle(t);
  await writeRelease(root, 'v1', files('v1'));
  assert.equal((await activate('v1')).outcome, 'success');
  const outside = await tempDir(t, 'rs-outside-');
  await writeFile(join(outside, 'config.yaml'), 'tag: outside\n');
  await mkdir(join(outside, 'rules'));
  await writeFile(join(outside, 'rules/r.json'), '{"tag":"outside"}');

  // A symlinked file: its hash matches today, but anyone who can edit the outside file later
  // changes what is served without any verification.
  const fileLink = await writeRelease(root, 'file-link', { 'config.yaml': 'tag: outside\n', 'rules/r.json': '{}' });
  await rm(join(fileLink, 'config.yaml'));
  await symlink(join(outside, 'config.yaml'), join(fileLink, 'config.yaml'));
  // A symlinked directory (relative link, climbing out).
  const dirLink = await writeRelease(root, 'dir-link', { 'config.yaml': 'tag: x\n', 'rules/r.json': '{"tag":"outside"}' });
  await rm(join(dirLink, 'rules'), { recursive: true });
  await symlink(relative(dirLink, join(await realpath(outside), 'rules')), join(dirLink, 'rules'));
  assert.equal(await readFile(join(dirLink, 'rules/r.json'), 'utf8'), '{"tag":"outside"}');
  // A symlink the manifest does not even list.
  const unlisted = await writeRelease(root, 'unlisted-link', files('u'));
  await symlink(join(outside, 'config.yaml'), join(unlisted, 'extra.yaml'));
  // The release directory itself a symlink to a directory elsewhere.
  const elsewhere = await writeRelease(outside, 'real', files('elsewhere'));
  await symlink(elsewhere, join(root, RELEASES, 'linked'));

  for (const version of ['file-link', 'dir-link', 'unlisted-link', 'linked']) {
    const r = await activate(version);
    assert.equal(r.outcome, 'failure', version);
    assert.equal(r.error?.code, 'bundle_invalid', `${version}: ${r.error?.message}`);
    assert.equal(r.error?.stage, 'verify', version);
    await assert.rejects(verifyBundle(root, version), (err: ConfigError) => err.code === 'bundle_invalid');
  }
  assert.equal(await activeBundleVersion(root), 'v1');
  assert.equal(await realpath(join(root, CURRENT, 'config.yaml')), await realpath(join(root, RELEASES, 'v1', 'config.yaml')));
  assert.equal(await readFile(join(root, CURRENT, 'config.yaml'), 'utf8'), 'tag: v1\n');

  // Symlinks that stay inside the release are fine (a file alias, a directory alias).
  const inside = await writeRelease(root, 'inside-links', { 'config.yaml': 'tag: real\n', 'rules/r.json': '{}', 'alias.yaml': 'tag: real\n' });
  await rm(join(inside, 'alias.yaml'));
  await symlink('config.yaml', join(inside, 'alias.yaml'));
  await symlink('rules', join(inside, 'rules-alias'));
  const r = await activate('inside-links');
  assert.equal(r.outcome, 'success', r.error?.message);
  assert.equal(await readFile(join(root, CURRENT, 'alias.yaml'), 'utf8'), 'tag: real\n');
});

test('unlisted files, hard links, FIFOs and dangling or looping symlinks in a release are refused with bundle_invalid', async (t) => {
  const { root, activate } = await bundle(t);
  await writeRelease(root, 'v1', files('v1'));
  assert.equal((await activate('v1')).outcome, 'success');
  const outside = await tempDir(t, 'rs-outside-');
  const cases: Record<string, (dir: string) => Promise<unknown>> = {
    'unlisted-file': (dir) => writeFile(join(dir, 'rules/extra.json'), '{"served":"unverified"}'),
    'hard-link': async (dir) => {
      await writeFile(join(outside, 'shared.yaml'), 'tag: hard\n');
      await rm(join(dir, 'config.yaml'));
      await link(join(outside, 'shared.yaml'), join(dir, 'config.yaml'));
      // The manifest still matches: only the link count gives it away.
      const manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8'));
      manifest.files['config.yaml'] = sha256Hex('tag: hard\n');
      await writeFile(join(dir, MANIFEST), JSON.stringify(manifest));
    },
    fifo: (dir) => Promise.resolve(execFileSync('mkfifo', [join(dir, 'pipe')])),
    dangling: (dir) => symlink('missing-target', join(dir, 'gone')),
    loop: (dir) => symlink('loop', join(dir, 'loop')),
  };
  for (const [version, damage] of Object.entries(cases)) {
    await damage(await writeRelease(root, version, files(version)));
    const r = await activate(version);
    assert.equal(r.error?.code, 'bundle_invalid', `${version}: ${r.outcome} ${r.error?.code} ${r.error?.message}`);
  }
  assert.equal(await activeBundleVersion(root), 'v1');
});

// Paths are built from pieces that matter to path handling, at most 6 deep, and the root sits
// 7 directories below the temp dir: even a writer that followed `..` stays inside the sandbox.
const segment = fc.oneof(
  fc.constantFrom('..', '.', '', 'a', 'b.json', MANIFEST, MANIFEST_SIGNATURE, 'C:', 'c:\\x', 'x\\..\\..', '\0', ' ', 'é'),
  fc.stringMatching(/^[A-Za-z0-9._-]{1,8}$/),
);
const manifestPath = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('/')),
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => `/${parts.join('/')}`),
  fc.string({ maxLength: 12 }),
);
const plainPath = fc.array(fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,7}$/), { minLength: 1, maxLength: 4 }).map((p) => p.join('/'));

async function deepRoot(t: TestContext): Promise<string> {
  const root = join(await tempDir(t, 'rs-fuzz-'), 'a/b/c/d/e/f/root');
  await mkdir(root, { recursive: true });
  return root;
}

test('fuzz: a manifest path is either refused with bundle_invalid or names a file inside the release', async (t) => {
  const root = await deepRoot(t);
  const dir = await writeRelease(root, 'fuzz', { 'config.yaml': 'x: 1\n' });
  await fc.assert(
    fc.asyncProperty(manifestPath, async (path) => {
      // Nothing but the manifest is in the release, so no listed path can verify.
      await rm(join(dir, 'config.yaml'), { force: true });
      await writeFile(join(dir, MANIFEST), JSON.stringify({ files: { [path]: sha256Hex('x') } }));
      await assert.rejects(verifyBundle(root, 'fuzz'), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `not a ConfigError for ${JSON.stringify(path)}: ${err}`);
        assert.equal(err.code, 'bundle_invalid', `${JSON.stringify(path)}: ${err.code} ${err.message}`);
        return true;
      });
    }),
    { numRuns: 250, ...FC_SEED },
  );
});

test('fuzz: writeRelease refuses a path that is not plain, and every release it writes verifies', async (t) => {
  const root = await deepRoot(t);
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof(manifestPath, plainPath), async (path) => {
      const version = `w${n++}`;
      let written = false;
      try {
        await writeRelease(root, version, { [path]: 'content\n' });
        written = true;
      } catch (err) {
        assert.ok(err instanceof TypeError, `${JSON.stringify(path)}: ${err}`);
      }
      if (written) {
        const dir = await realpath(join(root, RELEASES, version));
        assert.ok((await realpath(join(dir, path))).startsWith(`${dir}/`), `${JSON.stringify(path)} escaped`);
        assert.equal((await verifyBundle(root, version)).files, 1, JSON.stringify(path));
      }
    }),
    { numRuns: 120, ...FC_SEED },
  );
  // Nothing was written next to the root either.
  assert.deepEqual(execFileSync('ls', ['-A', join(root, '..')], { encoding: 'utf8' }).split('\n').filter(Boolean), ['root']);
});

test('a file named __proto__ (or constructor) is listed in the manifest like any other and verifies', async (t) => {
  // Found by the fuzz above (seed 2111553738): the manifest was built by assignment, so a file
  // named `__proto__` set the object's prototype instead of becoming a key, and verify refused
  // the release as holding an unlisted file.
  const root = await deepRoot(t);
  // A computed key: a literal `__proto__:` would set the literal's own prototype.
  await writeRelease(root, 'p1', { ['__proto__']: 'a\n', constructor: 'b\n' });
  assert.equal((await verifyBundle(root, 'p1')).files, 2);
});

// ---------------------------------------------------------------- item 14: signed manifests

const keys = () => generateKeyPairSync('ed25519');

test('signed manifests: a good signature activates; a bad, missing or other-key signature is refused and the old release keeps serving', async (t) => {
  const { root, activate } = await bundle(t, { keep: 10 });
  const { publicKey, privateKey } = keys();
  const verify = { publicKey };
  await writeRelease(root, 'good', files('good'), { privateKey });
  const ok = await activate('good', { verify });
  assert.equal(ok.outcome, 'success', ok.error?.message);
  assert.equal((await verifyBundle(root, 'good', { verify })).version, 'good');
  // The PEM form (as read from a file) works the same.
  assert.equal((await verifyBundle(root, 'good', { verify: { publicKey: publicKey.export({ type: 'spki', format: 'pem' }) } })).version, 'good');

  // Anyone who can write the release can write a matching manifest, but not its signature.
  const forged = await writeRelease(root, 'forged', files('good'), { privateKey });
  await writeFile(join(forged, 'config.yaml'), 'tag: evil\n');
  const manifest = JSON.parse(await readFile(join(forged, MANIFEST), 'utf8'));
  manifest.files['config.yaml'] = sha256Hex('tag: evil\n');
  await writeFile(join(forged, MANIFEST), JSON.stringify(manifest, null, 2));

  await writeRelease(root, 'unsigned', files('unsigned'));
  await writeRelease(root, 'other-key', files('other'), { privateKey: keys().privateKey });
  const garbage = await writeRelease(root, 'garbage-sig', files('garbage'), { privateKey });
  await writeFile(join(garbage, MANIFEST_SIGNATURE), 'not a signature');
  // A base64 signature (as `openssl ... | base64` writes) is accepted like for configs.
  const b64 = await writeRelease(root, 'base64-sig', files('b64'));
  await writeFile(join(b64, MANIFEST_SIGNATURE), `${sign(null, await readFile(join(b64, MANIFEST)), privateKey).toString('base64')}\n`);

  const expected: Record<string, string> = { forged: 'bad_signature', unsigned: 'missing_signature', 'other-key': 'bad_signature', 'garbage-sig': 'bad_signature' };
  for (const [version, code] of Object.entries(expected)) {
    const r = await activate(version, { verify });
    assert.equal(r.outcome, 'failure', version);
    assert.equal(r.error?.code, code, `${version}: ${r.error?.message}`);
    assert.equal(r.error?.stage, 'verify');
    assert.equal(await activeBundleVersion(root), 'good', version);
  }
  assert.equal((await activate('base64-sig', { verify })).outcome, 'success');
  // Without a key the signature is not looked at (backward compatible).
  assert.equal((await activate('unsigned')).outcome, 'success');
});

test('bundle verify options are checked: a non-Ed25519 key, or a serial without a key, is a TypeError', async (t) => {
  const root = await tempDir(t);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  assert.throws(() => activateBundle({ root, version: 'v1', verify: { publicKey: rsa } }), TypeError);
  assert.throws(() => activateBundle({ root, version: 'v1', verify: { serial: true } }), /needs a publicKey/);
  await assert.rejects(verifyBundle(root, 'v1', { verify: { serial: true } }), TypeError);
  await assert.rejects(writeRelease(root, 'v1', files('x'), { privateKey: keys().publicKey }), TypeError);
  await assert.rejects(writeRelease(root, 'v1', files('x'), { serial: -1 }), TypeError);
});

// ---------------------------------------------------------------- item 13: rollback protection

test('bundle rollback protection: an older validly signed release is refused (version_rollback) and the newer one keeps serving', async (t) => {
  const { root, tel, activate } = await bundle(t, { keep: 10 });
  const { publicKey, privateKey } = keys();
  const stateFile = join(await tempDir(t, 'rs-state-'), 'bundle-serial.json');
  const verify = { publicKey, serial: { stateFile } };
  await writeRelease(root, 's1', files('one'), { serial: 1, privateKey });
  await writeRelease(root, 's2', files('two'), { serial: 2, privateKey });
  assert.equal((await activate('s1', { verify })).outcome, 'success');
  assert.equal((await activate('s2', { verify })).outcome, 'success');
  assert.deepEqual(JSON.parse(await readFile(stateFile, 'utf8')).serial, 2);

  const back = await activate('s1', { verify });
  assert.equal(back.outcome, 'failure');
  assert.equal(back.error?.code, 'version_rollback');
  assert.equal(back.error?.stage, 'verify');
  assert.match(back.error?.message ?? '', /serial 1 is older than the accepted serial 2/);
  assert.equal(await activeBundleVersion(root), 's2');
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': 'rules', 'hotreload.trigger': 'api', 'hotreload.outcome': 'failure' }), 1);

  // Equal serial: the same signed manifest under another name is the same version (accepted);
  // different content signed with the same serial is refused.
  const copy = await writeRelease(root, 's2-copy', files('two'), { serial: 2, privateKey });
  assert.equal(await readFile(join(copy, MANIFEST), 'utf8'), await readFile(join(root, RELEASES, 's2', MANIFEST), 'utf8'));
  assert.equal((await activate('s2-copy', { verify })).outcome, 'success');
  assert.equal(await activeBundleVersion(root), 's2-copy');
  await writeRelease(root, 's2-other', files('two, but different'), { serial: 2, privateKey });
  const twin = await activate('s2-other', { verify });
  assert.equal(twin.error?.code, 'version_rollback');
  assert.match(twin.error?.message ?? '', /serial 2 was already accepted for different content/);

  // No serial in the manifest while protection is on.
  await writeRelease(root, 'no-serial', files('none'), { privateKey });
  assert.equal((await activate('no-serial', { verify })).error?.code, 'bundle_invalid');

  // A higher serial moves on.
  await writeRelease(root, 's3', files('three'), { serial: 3, privateKey });
  assert.equal((await activate('s3', { verify })).outcome, 'success');
  assert.equal(await activeBundleVersion(root), 's3');
  assert.deepEqual(JSON.parse(await readFile(stateFile, 'utf8')).serial, 3);
});

test('bundle rollback protection holds in a fresh process: from the active release alone, and from the state file after current was moved back by hand', async (t) => {
  const root = await tempDir(t, 'rs-bundle-');
  const { publicKey, privateKey } = keys();
  const stateFile = join(await tempDir(t, 'rs-state-'), 'serial.json');
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await writeRelease(root, 's1', files('one'), { serial: 1, privateKey });
  await writeRelease(root, 's5', files('five'), { serial: 5, privateKey });
  const deploy = (version: string, state?: string) =>
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { activateBundle } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)};
         const serial = process.argv[3] ? { stateFile: process.argv[3] } : true;
         const r = await activateBundle({ root: process.argv[1], version: process.argv[2], verify: { publicKey: process.env.PUB, serial } });
         console.log(r.outcome, r.error?.code ?? '');`,
        root,
        version,
        ...(state ? [state] : []),
      ],
      { encoding: 'utf8', env: { ...process.env, PUB: pem } },
    ).trim();
  assert.equal(deploy('s5', stateFile), 'success');
  // A one-shot deploy of an older signed release: the active release's serial is the floor.
  assert.equal(deploy('s1'), 'failure version_rollback');
  assert.equal(await activeBundleVersion(root), 's5');
  // Someone with write access to the root points current back by hand; the state file, kept
  // where they cannot write, still refuses activating the old release through reloadscope.
  await symlink(join(RELEASES, 's1'), join(root, 'tmp-link'));
  execFileSync('mv', ['-T', join(root, 'tmp-link'), join(root, CURRENT)]);
  assert.equal(await activeBundleVersion(root), 's1');
  assert.equal(deploy('s1', stateFile), 'failure version_rollback');
  assert.equal(deploy('s5', stateFile), 'success');
  // A state file that cannot be trusted fails closed.
  await writeFile(stateFile, '{"serial": "many"}');
  assert.equal(deploy('s5', stateFile), 'failure version_rollback');
});

test('after current was moved by hand, activating the version this process activated last switches back instead of reporting unchanged', async (t) => {
  const { root, activate } = await bundle(t, { keep: 10 });
  await writeRelease(root, 'old', files('old'));
  await writeRelease(root, 'new', files('new'));
  assert.equal((await activate('old')).outcome, 'success');
  assert.equal((await activate('new')).outcome, 'success');
  await symlink(join(RELEASES, 'old'), join(root, 'by-hand'));
  execFileSync('mv', ['-T', join(root, 'by-hand'), join(root, CURRENT)]);
  assert.equal(await readFile(join(root, CURRENT, 'config.yaml'), 'utf8'), 'tag: old\n');
  const again = await activate('new');
  assert.equal(again.outcome, 'success');
  assert.equal(await activeBundleVersion(root), 'new');
  assert.equal(await readFile(join(root, CURRENT, 'config.yaml'), 'utf8'), 'tag: new\n');
  // With current in place, the same request is a no-op as before.
  assert.equal((await activate('new')).outcome, 'unchanged');
});
