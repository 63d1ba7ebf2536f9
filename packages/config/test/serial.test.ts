// Config rollback protection: a signed serial that may not go backwards (watchConfig verify.serial).
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { type ConfigError, type SerialOptions, watchConfig } from '../src/index.ts';
import { diagnostics, telemetry, tempDir } from './harness.ts';

const { publicKey, privateKey } = generateKeyPairSync('ed25519');

/** Write a config and its detached signature, as a signer would publish them. */
async function publish(file: string, text: string): Promise<void> {
  await writeFile(file, text);
  await writeFile(`${file}.sig`, sign(null, Buffer.from(text), privateKey));
}

async function setup(t: TestContext) {
  const dir = await tempDir(t);
  const file = join(dir, 'app.yaml');
  const stateFile = join(await tempDir(t, 'rs-state-'), 'app.serial.json');
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const diags = diagnostics();
  const open = (serial: SerialOptions | true = { stateFile }, extra: object = {}) =>
    watchConfig<{ serial?: number; name: string }>({
      path: file,
      watch: false,
      signal: false,
      instrumentation: tel.reloads,
      onDiagnostic: diags.sink,
      verify: { publicKey, serial },
      ...extra,
    });
  return { dir, file, stateFile, tel, diags, open };
}

test('an older validly signed config is refused with version_rollback and the active version keeps serving', async (t) => {
  const { file, stateFile, tel, diags, open } = await setup(t);
  await publish(file, 'serial: 2\nname: two\n');
  const config = await open();
  t.after(() => config.close());
  const two = await readFile(file);
  const twoSig = await readFile(`${file}.sig`);

  await publish(file, 'serial: 3\nname: three\n');
  assert.equal((await config.reload()).outcome, 'success');
  assert.equal(config.current.name, 'three');
  const active = config.hash;
  assert.deepEqual(JSON.parse(await readFile(stateFile, 'utf8')), { serial: 3, hash: active });

  // The attacker puts the old, genuinely signed pair back.
  await writeFile(file, two);
  await writeFile(`${file}.sig`, twoSig);
  const back = await config.reload();
  assert.equal(back.outcome, 'failure');
  assert.equal(back.error?.code, 'version_rollback');
  assert.equal(back.error?.stage, 'verify');
  assert.equal(back.error?.message, 'config serial 2 is older than the accepted serial 3');
  assert.equal(config.current.name, 'three');
  assert.equal(config.hash, active);
  assert.equal(back.hash, active);
  assert.ok(diags.seen.some((d) => d.code === 'reload_rejected' && d.message.includes('(version_rollback)')));

  // Equal serial: different content is refused, the same bytes again are accepted.
  await publish(file, 'serial: 3\nname: three, edited\n');
  assert.equal((await config.reload()).error?.code, 'version_rollback');
  await publish(file, 'serial: 3\nname: three\n');
  assert.equal((await config.reload({ force: true })).outcome, 'success');
  assert.equal(config.hash, active);

  // No serial at all while protection is on.
  await publish(file, 'name: unnumbered\n');
  assert.equal((await config.reload()).error?.code, 'schema_violation');

  await publish(file, 'serial: 4\nname: four\n');
  assert.equal((await config.reload()).outcome, 'success');
  assert.equal(config.current.name, 'four');
  assert.equal(JSON.parse(await readFile(stateFile, 'utf8')).serial, 4);
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': 'app.yaml', 'hotreload.trigger': 'api', 'hotreload.outcome': 'failure' }), 3);
});

test('the state file carries the floor across restarts (fail closed when malformed); without one a restart trusts the first config', async (t) => {
  const { file, stateFile, open } = await setup(t);
  await publish(file, 'serial: 4\nname: four\n');
  const four = [await readFile(file), await readFile(`${file}.sig`)] as const;
  await publish(file, 'serial: 5\nname: five\n');
  const first = await open();
  await first.close();

  await writeFile(file, four[0]);
  await writeFile(`${file}.sig`, four[1]);
  await assert.rejects(open(), (err: ConfigError) => err.code === 'version_rollback' && /serial 4 is older than the accepted serial 5/.test(err.message));

  // In-memory only (no stateFile): the floor lives as long as the process; a new watcher starts fresh.
  const fresh = await open(true);
  assert.equal(fresh.current.name, 'four');
  await fresh.close();

  await writeFile(stateFile, 'not json');
  await assert.rejects(open(), (err: ConfigError) => err.code === 'version_rollback' && /malformed/.test(err.message));
});

test('a version rolled back by a listener does not raise the floor', async (t) => {
  const { file, stateFile, open } = await setup(t);
  await publish(file, 'serial: 1\nname: one\n');
  const config = await open();
  t.after(() => config.close());
  config.onChange((next) => {
    if (next.name === 'refused') throw new Error('not this one');
  });
  await publish(file, 'serial: 3\nname: refused\n');
  assert.equal((await config.reload()).outcome, 'rollback');
  assert.equal(JSON.parse(await readFile(stateFile, 'utf8')).serial, 1);
  await publish(file, 'serial: 2\nname: two\n');
  assert.equal((await config.reload()).outcome, 'success');
  assert.equal(config.current.name, 'two');
});

test('serial options: a custom reader, TypeErrors for a serial without a key or a bad reader, a failed state write is reported', async (t) => {
  const { dir, file, diags, open } = await setup(t);
  await publish(file, 'meta: { rev: 7 }\nname: seven\n');
  const config = await open({ read: (v: { meta: { rev: number } }) => v.meta.rev, stateFile: join(dir, 'missing-dir', 'state.json') });
  t.after(() => config.close());
  assert.equal(config.current.name, 'seven');
  // The write failed (no such directory): reported, the reload still succeeded, memory still protects.
  assert.ok(diags.seen.some((d) => d.code === 'serial_state_failed' && /serial 7/.test(d.message)), JSON.stringify(diags.seen));
  await publish(file, 'meta: { rev: 6 }\nname: six\n');
  assert.equal((await config.reload()).error?.code, 'version_rollback');

  await assert.rejects(watchConfig({ path: file, watch: false, signal: false, verify: { serial: true } }), /verify\.serial needs a publicKey/);
  await assert.rejects(open({ read: 'meta.rev' } as unknown as SerialOptions), (err: unknown) => err instanceof TypeError && /verify\.serial\.read/.test(err.message));
  await assert.rejects(open({ stateFile: '' }), TypeError);
});
