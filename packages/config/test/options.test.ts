import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import {
  activateBundle,
  type ConfigWatcher,
  createReloadHandler,
  debounce,
  listenForReloads,
  watchConfig,
  watchFiles,
  writeRelease,
} from '../src/index.ts';
import { describeValue, MAX_TIMER_MS } from '../src/options.ts';
import { telemetry, tempDir } from './harness.ts';

const TOKEN = 'correct-horse-battery-staple';
const SEED = Number(process.env.FC_SEED ?? 20261201);

async function fixture(t: TestContext) {
  const dir = await tempDir(t);
  const file = join(dir, 'opts.json');
  await writeFile(file, '{"v":1}');
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const config = await watchConfig({ path: file, instrumentation: tel.reloads, watch: false, signal: false });
  t.after(() => config.close());
  return { dir, file, tel, config };
}

/** What `Number(process.env.X)`, `parseInt`, JSON and careless code hand over. */
const junk = fc.oneof(
  fc.constantFrom<unknown>(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, null, '5', '', true, false, [], {}, [5], 5n),
  fc.string({ maxLength: 8 }),
  fc.object({ maxDepth: 1 }),
);
const negative = fc.oneof(fc.integer({ max: -1 }), fc.double({ max: -Number.MIN_VALUE, noNaN: true }));
const fraction = fc.double({ min: 0.001, max: 1e6, noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x));
const tooBigForATimer = fc.double({ min: MAX_TIMER_MS + 1, max: 1e300, noNaN: true, noDefaultInfinity: true });

interface NumericOption {
  /** How the message names it: `<fn>: options.<name> must be`. */
  fn: string;
  name: string;
  good: fc.Arbitrary<number>;
  bad: fc.Arbitrary<unknown>;
}

const duration = (fn: string, name: string, allowZero = false): NumericOption => ({
  fn,
  name,
  good: fc.double({ min: allowZero ? 0 : 1, max: MAX_TIMER_MS, noNaN: true }),
  // Below 1 ms Node fires after 1 ms anyway: a sub-millisecond deadline is a unit mistake.
  bad: fc.oneof(junk, negative, tooBigForATimer, ...(allowZero ? [] : [fc.constantFrom(0, -0), fc.double({ min: Number.MIN_VALUE, max: 0.999, noNaN: true })])),
});
/** A rate: any finite number above 0 (0.5 per second is one every 2 s), at most a million. */
const rate = (fn: string, name: string): NumericOption => ({
  fn,
  name,
  good: fc.double({ min: 0.001, max: 1_000_000, noNaN: true }),
  bad: fc.oneof(junk, negative, tooBigForATimer, fc.constantFrom(0, -0)),
});
const positiveInteger = (fn: string, name: string, max = 1e9): NumericOption => ({
  fn,
  name,
  good: fc.integer({ min: 1, max }),
  bad: fc.oneof(junk, negative, fraction, fc.constant(0)),
});

/** Calls the public function with `value` at the option; throws (or rejects) what it throws. */
type Caller = (value: unknown) => unknown;

async function thrown(call: () => unknown): Promise<unknown> {
  try {
    await call();
    return undefined;
  } catch (err) {
    return err;
  }
}

function assertNamed(err: unknown, option: NumericOption, value: unknown): void {
  assert.ok(err instanceof TypeError, `${option.fn} ${option.name}=${describeValue(value)}: expected a TypeError, got ${String(err)}`);
  assert.ok(
    err.message.startsWith(`${option.fn}: `) && err.message.includes(`${option.name} must be`),
    `the message names the option: ${err.message}`,
  );
}

async function checkOption(option: NumericOption, call: Caller, numRuns = 40): Promise<void> {
  await fc.assert(
    fc.asyncProperty(option.bad, async (value) => assertNamed(await thrown(() => call(value)), option, value)),
    { numRuns, seed: SEED },
  );
  await fc.assert(
    fc.asyncProperty(option.good, async (value) => {
      const err = await thrown(() => call(value));
      assert.ok(!(err instanceof TypeError), `${option.fn} ${option.name}=${value} is valid but threw ${String(err)}`);
    }),
    { numRuns: Math.ceil(numRuns / 2), seed: SEED },
  );
}

test('every numeric option of watchConfig refuses NaN, ±Infinity, negatives, 0, fractions and non-numbers with a TypeError naming it', async (t) => {
  const { file, tel } = await fixture(t);
  const start = async (extra: Record<string, unknown>) => {
    const config = await watchConfig({ path: file, instrumentation: tel.reloads, signal: false, watch: false, ...extra });
    await config.close();
  };
  const cases: Array<[NumericOption, Caller]> = [
    [positiveInteger('watchConfig', 'options.maxBytes', 2 ** 40), (v) => start({ maxBytes: v })],
    [duration('watchConfig', 'options.timeoutMs'), (v) => start({ timeoutMs: v })],
    [duration('watchConfig', 'options.watch.debounceMs', true), (v) => start({ watch: { debounceMs: v } })],
    [duration('watchConfig', 'options.watch.maxWaitMs'), (v) => start({ watch: { maxWaitMs: v } })],
    [
      { ...duration('watchConfig', 'options.watch.pollMs'), good: fc.double({ min: 10, max: MAX_TIMER_MS, noNaN: true }), bad: fc.oneof(junk, negative, fc.double({ min: 0, max: 9.99, noNaN: true }), tooBigForATimer) },
      (v) => start({ watch: { pollMs: v } }),
    ],
    // The listener needs a port anyway: 0 keeps the good runs from colliding.
    [positiveInteger('watchConfig', 'options.http.rateLimit.burst', 1_000_000), (v) => start({ http: { token: TOKEN, rateLimit: { burst: v } } })],
    [
      rate('watchConfig', 'options.http.rateLimit.perSecond'),
      (v) => start({ http: { token: TOKEN, rateLimit: { perSecond: v } } }),
    ],
  ];
  for (const [option, call] of cases) await checkOption(option, call, 24);
});

test('the HTTP trigger, bundles, watchFiles, debounce and reload() check their numeric options the same way', async (t) => {
  const { dir, config } = await fixture(t);
  const root = join(dir, 'bundle');
  await mkdir(root);
  await writeRelease(root, 'v1', { 'a.txt': 'a' });
  const watched = join(dir, 'opts.json');
  const cases: Array<[NumericOption, Caller, number?]> = [
    [positiveInteger('createReloadHandler', 'options.rateLimit.burst', 1_000_000), (v) => createReloadHandler(config, { token: TOKEN, rateLimit: { burst: v as number } })],
    [
      rate('createReloadHandler', 'options.rateLimit.perSecond'),
      (v) => createReloadHandler(config, { token: TOKEN, rateLimit: { perSecond: v as number } }),
    ],
    [
      { fn: 'listenForReloads', name: 'options.port', good: fc.constant(0), bad: fc.oneof(junk, negative, fraction, fc.integer({ min: 65_536 })) },
      async (v) => (await listenForReloads(config, { token: TOKEN, port: v as number })).close(),
      10,
    ],
    [positiveInteger('activateBundle', 'options.keep', 100), (v) => activateBundle({ root, version: 'v1', keep: v as number })],
    [positiveInteger('activateBundle', 'options.maxFileBytes', 2 ** 40), (v) => activateBundle({ root, version: 'v1', maxFileBytes: v as number })],
    [duration('activateBundle', 'options.timeoutMs'), (v) => activateBundle({ root, version: 'v1', timeoutMs: v as number })],
    [
      duration('watchFiles', 'options.debounceMs', true),
      (v) => watchFiles([watched], () => {}, { debounceMs: v as number }, () => {}).close(),
    ],
    [duration('watchFiles', 'options.maxWaitMs'), (v) => watchFiles([watched], () => {}, { maxWaitMs: v as number }, () => {}).close()],
    [duration('debounce', 'debounceMs', true), (v) => debounce(() => {}, v as number, 1000).cancel()],
    [duration('debounce', 'maxWaitMs'), (v) => debounce(() => {}, 10, v as number).cancel()],
    [duration('reload', 'request.timeoutMs'), (v) => (config as ConfigWatcher<unknown>).reload({ timeoutMs: v as number })],
  ];
  for (const [option, call, runs] of cases) await checkOption(option, call, runs ?? 30);
});

test('an unset environment variable (NaN) no longer switches the HTTP rate limit off', async (t) => {
  const { config } = await fixture(t);
  // What a deployment without RELOAD_PER_SECOND set produced: before, every request got through.
  const perSecond = Number(process.env.RELOADSCOPE_TEST_UNSET_VARIABLE);
  assert.throws(() => createReloadHandler(config, { token: TOKEN, rateLimit: { burst: 5, perSecond } }), {
    name: 'TypeError',
    message: 'createReloadHandler: options.rateLimit.perSecond must be a finite number > 0 and <= 1000000, got NaN',
  });
  assert.throws(() => createReloadHandler(config, { token: TOKEN, rateLimit: { burst: Number.POSITIVE_INFINITY } }), /options\.rateLimit\.burst must be an integer from 1 to 1000000, got Infinity/);
  await assert.rejects(listenForReloads(config, { token: TOKEN, rateLimit: { perSecond: Number.NaN } }), /listenForReloads: options\.rateLimit\.perSecond/);
});

test('a poll interval of 0 or NaN (which polled every millisecond) is refused', async (t) => {
  const { file } = await fixture(t);
  for (const pollMs of [0, Number.NaN, 5, -1000]) {
    await assert.rejects(watchConfig({ path: file, signal: false, watch: { pollMs } }), {
      name: 'TypeError',
      message: `watchConfig: options.watch.pollMs must be a finite number >= 10 and <= ${MAX_TIMER_MS}, got ${describeValue(pollMs)}`,
    });
  }
});

test('bundle keep: NaN (which pruned every release but two) and 0 are refused before anything is touched', async (t) => {
  const root = await tempDir(t);
  await writeRelease(root, 'v1', { 'a.txt': 'a' });
  for (const keep of [Number.NaN, 0, -1, 1.5]) {
    assert.throws(() => activateBundle({ root, version: 'v1', keep }), /activateBundle: options\.keep must be an integer >= 1/);
  }
});

test('non-numeric options: wrong types and shapes are TypeErrors naming the option', async (t) => {
  const { file, config } = await fixture(t);
  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [{ path: '' }, /options\.path must be a non-empty string/],
    [{ path: 'a\0b' }, /options\.path must be .* without NUL bytes/],
    [{ file: 42 }, /options\.file must be/],
    [{ format: 'toml' }, /options\.format must be 'json', 'yaml' or a parser function, got a string of length 4/],
    [{ schema: {} }, /options\.schema must be a Standard Schema/],
    [{ watch: 'yes' }, /options\.watch must be true, false or/],
    [{ watch: null }, /options\.watch must be true, false or/],
    [{ signal: true }, /options\.signal must be a signal name/],
    [{ instrumentation: {} }, /options\.instrumentation must be an object with reload\(\), declareTarget\(\)/],
    [{ target: '' }, /options\.target must be a non-empty string/],
    [{ verify: 'sha' }, /options\.verify must be an object/],
    [{ verify: { sha256File: 7 } }, /options\.verify\.sha256File must be/],
    [{ verify: { publicKey: null } }, /options\.verify\.publicKey must be an Ed25519 public key .*, got null/],
    [{ verify: { publicKey: 'not a key' } }, /options\.verify\.publicKey must be an Ed25519 public key .*, got a string of length 9/],
    [{ verify: { publicKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey } }, /options\.verify\.publicKey must be an Ed25519 public key/],
    [{ onDiagnostic: 'log' }, /options\.onDiagnostic must be a function/],
    [{ http: true }, /options\.http must be an object, got true/],
    [{ http: { token: 'short' } }, /options\.http\.token must be a string of 8 to 4096 characters of visible ASCII characters, got a string of length 5/],
    [{ http: { token: TOKEN, host: 5 } }, /options\.http\.host must be/],
    [{ http: { token: TOKEN, path: 'reload' } }, /options\.http\.path must be .* starting with '\/'/],
    [{ http: { token: TOKEN, path: '/re load' } }, /options\.http\.path must be/],
    [{ http: { token: TOKEN, rateLimit: 5 } }, /options\.http\.rateLimit must be an object, got 5/],
  ];
  for (const [extra, message] of refused) {
    await assert.rejects(watchConfig({ path: file, signal: false, watch: false, ...extra } as never), (err: Error) => {
      assert.ok(err instanceof TypeError, `${JSON.stringify(extra)}: ${String(err)}`);
      assert.match(err.message, /^watchConfig: /);
      assert.match(err.message, message);
      return true;
    });
  }
  await assert.rejects(watchConfig(null as never), /watchConfig: options must be an object, got null/);
  assert.throws(() => createReloadHandler(config, { token: `${TOKEN} with spaces` }), /options\.token must be/);
  assert.throws(() => createReloadHandler({} as never, { token: TOKEN }), /createReloadHandler: target must have a reload\(\) method, got an object/);
  assert.throws(() => activateBundle({ root: '', version: 'v1' }), /activateBundle: options\.root must be a non-empty string/);
  // Whatever activateBundle calls on the instrumentation is checked up front (a copy of core without
  // admitTarget() would otherwise fail mid-activation).
  assert.throws(
    () => activateBundle({ root: 'r', version: 'v1', instrumentation: { reload: () => Promise.resolve() } as never }),
    /activateBundle: options\.instrumentation must be an object with reload\(\), admitTarget\(\)/,
  );
  assert.throws(() => debounce(() => {}, 10, 10, { leading: 'yes' as never }), /debounce: options\.leading must be true or false/);
  assert.throws(() => watchFiles([], () => {}, {}, () => {}), /watchFiles: files must be a non-empty array/);
  await assert.rejects(config.reload({ force: 1 as never }), /reload: request\.force must be true or false/);
});

test('a bad value is described, never echoed: a mistyped token does not reach the message', async (t) => {
  const { config } = await fixture(t);
  const secret = 'hunter2-is-my-real-token\n';
  assert.throws(
    () => createReloadHandler(config, { token: secret }),
    (err: Error) => !err.message.includes('hunter2') && /got a string of length 25$/.test(err.message),
  );
  assert.equal(describeValue({ password: 'x' }), 'an object');
  assert.equal(describeValue('x'.repeat(1e6)), 'a string of length 1000000');
  assert.equal(describeValue([1, 2]), 'an array of length 2');
  assert.equal(describeValue(-0), '-0');
  assert.equal(describeValue(Symbol('s')), 'a symbol');
});
