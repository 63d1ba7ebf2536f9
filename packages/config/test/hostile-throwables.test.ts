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
