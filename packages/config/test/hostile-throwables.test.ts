import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, watchConfig } from '../src/index.ts';
import { telemetry, tempDir } from './harness.ts';

test('an onChange listener that throws a hostile value rolls back with subscriber_failed; nothing escapes', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'app.yaml');
  await writeFile(file, 'v: 1\n');
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const escaped: unknown[] = [];
  const onEscape = (err: unknown) => escaped.push(err);
  process.on('unhandledRejection', onEscape);
  t.after(() => process.off('unhandledRejection', onEscape));
  const config = await watchConfig<{ v: number }>({ path: file, instrumentation: tel.reloads, watch: false, signal: false });
  t.after(() => config.close());
  const hostile = new Proxy(
    {},
    {
      get() {
        throw new Proxy({}, { get: () => { throw 1; } });
      },
      getPrototypeOf() {
        throw 2;
      },
    },
  );
  // Looks like a ReloadError, with a getter that throws: it must not choose the code.
  const lookalike = {
    name: 'ReloadError',
    get code(): string {
      throw hostile;
    },
  };
  const thrown: unknown[] = [hostile, lookalike, undefined];
  let i = 0;
  const off = config.onChange(() => {
    throw thrown[i];
  });
  for (i = 0; i < thrown.length; i++) {
    await writeFile(file, `v: ${i + 2}\n`);
    const r = await config.reload();
    assert.equal(r.outcome, 'rollback', `thrown[${i}]`);
    assert.equal(r.error?.code, 'subscriber_failed');
    assert.deepEqual(config.current, { v: 1 });
  }
  off();
  assert.equal((await config.reload()).outcome, 'success', 'the target is free');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(escaped, []);
});

test('a custom parser or schema that throws a Proxy: watchConfig rejects with a ConfigError, not the Proxy', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'app.yaml');
  await writeFile(file, 'v: 1\n');
  const trapsThrow = () =>
    new Proxy(
      {},
      {
        get: () => {
          throw 1;
        },
        getPrototypeOf: () => {
          throw 2;
        },
      },
    );
  await assert.rejects(
    watchConfig({
      path: file,
      signal: false,
      watch: false,
      format: () => {
        throw trapsThrow();
      },
    }),
    (err: Error & { code?: string }) => err instanceof ConfigError && err.code === 'parse_error',
  );
  // A schema whose result object throws on every read: the rejection is still a ConfigError.
  const schema = { '~standard': { version: 1 as const, vendor: 'evil', validate: () => trapsThrow() as never } };
  await assert.rejects(
    watchConfig({ path: file, signal: false, watch: false, schema }),
    (err: unknown) => err instanceof ConfigError,
  );
});

test('an onDiagnostic sink that throws changes no outcome: a switch that took effect stays success, a rejected reload still resolves', async (t) => {
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const said: string[] = [];
  const throwing = (d: { code: string }) => {
    said.push(d.code);
    throw new Error('the sink is broken');
  };
  const { generateKeyPairSync } = await import('node:crypto');
  const { activateBundle, activeBundleVersion, writeRelease } = await import('../src/index.ts');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');

  // A bundle whose serial cannot be recorded (the state file's directory is a file): the switch
  // stands and is reported as success; the sink hears serial_state_failed and its throw goes nowhere.
  const root = await tempDir(t, 'rs-bundle-');
  const notADir = join(await tempDir(t, 'rs-state-'), 'file');
  await writeFile(notADir, '');
  await writeRelease(root, 's1', { 'a.txt': 'one' }, { serial: 1, privateKey });
  const r = await activateBundle({
    root,
    version: 's1',
    instrumentation: tel.reloads,
    target: 'rules',
    onDiagnostic: throwing,
    verify: { publicKey, serial: { stateFile: join(notADir, 'serial.json') } },
  });
  assert.deepEqual([r.outcome, r.error?.code], ['success', undefined]);
  assert.equal(await activeBundleVersion(root), 's1');
  assert.deepEqual(said, ['serial_state_failed']);

  // watchConfig: a rejected reload is said to the sink (reload_rejected); the throw must not turn
  // the result into a rejection.
  const dir = await tempDir(t);
  const file = join(dir, 'app.json');
  await writeFile(file, '{"v": 1}');
  const config = await watchConfig<{ v: number }>({ path: file, instrumentation: tel.reloads, watch: false, signal: false, onDiagnostic: throwing });
  t.after(() => config.close());
  await writeFile(file, '{"v": ');
  const rejected = await config.reload();
  assert.deepEqual([rejected.outcome, rejected.error?.code], ['failure', 'parse_error']);
  assert.deepEqual(said, ['serial_state_failed', 'reload_rejected']);
  assert.deepEqual(config.current, { v: 1 });
});
