import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ReloadError, errorType, isReloadError } from '../src/errors.ts';
import { OUTCOMES, STAGES } from '../src/semconv.ts';
import type { ReloadStages } from '../src/types.ts';
import { setup, sleep } from './harness.ts';

// Anything that escapes reloadscope as an unhandled rejection or exception lands here.
const escaped: unknown[] = [];
const onEscape = (err: unknown) => escaped.push(err);
before(() => {
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
});
after(() => {
  process.off('unhandledRejection', onEscape);
  process.off('uncaughtException', onEscape);
});

/** Let stray promise jobs and timers run, then check that nothing escaped. */
async function assertNothingEscaped(): Promise<void> {
  await sleep(5);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(escaped.splice(0), [], 'a thrown value escaped as unhandledRejection/uncaughtException');
}

const SECRET = 'hunter2-db-password';
/** error.type may only be a class name, _OTHER, or a code core itself produces. */
const CLASS_NAME = /^[A-Z][A-Za-z0-9]{0,63}$/;
const allowedType = (t: unknown) => typeof t === 'string' && (t === '_OTHER' || CLASS_NAME.test(t) || t === 'timeout' || t === 'rollback_failed');

/** A Proxy whose every trap throws (what it throws is itself such a Proxy). */
function trapsThrow(target: object = {}): object {
  const handler: ProxyHandler<object> = {};
  for (const trap of ['get', 'set', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'setPrototypeOf', 'defineProperty', 'deleteProperty', 'isExtensible', 'preventExtensions', 'apply', 'construct'] as const) {
    (handler as Record<string, unknown>)[trap] = () => {
      throw trapsThrow();
    };
  }
  return new Proxy(target, handler);
}

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable(new Error(SECRET), {});
  revoke();
  return proxy;
}

const KEYS = ['name', 'message', 'stack', 'code', 'cause', 'constructor', 'stage', 'then', 'toString', 'valueOf', 'toJSON', Symbol.toPrimitive] as const;

/**
 * Recipes, not values: fast-check reads its clone symbol on every generated value, which a
 * hostile value would make throw inside fast-check. Each run builds its value from the recipe.
 */
const hostileObject = fc
  .record({
    base: fc.constantFrom('plain', 'error', 'null-proto', 'function', 'reload-prototype'),
    lookalike: fc.boolean(),
    throwing: fc.subarray([...KEYS]),
    returning: fc.dictionary(fc.constantFrom('name', 'message', 'code', 'stack', 'stage'), fc.oneof(fc.string(), fc.anything())),
    proxied: fc.boolean(),
  })
  .map((recipe) => () => {
    const { base, lookalike, throwing, returning, proxied } = recipe;
    const o: object =
      base === 'error' ? new Error(SECRET) : base === 'null-proto' ? Object.create(null) : base === 'function' ? () => {} : base === 'reload-prototype' ? Object.create(ReloadError.prototype) : {};
    const fields: Record<string, unknown> = lookalike ? { name: 'ReloadError', code: `${SECRET} with spaces`, message: SECRET } : {};
    for (const [k, v] of Object.entries({ ...fields, ...returning })) Object.defineProperty(o, k, { value: v, configurable: true });
    for (const k of throwing) {
      Object.defineProperty(o, k, {
        configurable: true,
        get() {
          throw trapsThrow();
        },
      });
    }
    return proxied ? new Proxy(o, { getPrototypeOf: () => { throw trapsThrow(); } }) : o;
  });

/** Builders of the values a stage throws. */
const thrownValue: fc.Arbitrary<() => unknown> = fc.oneof(
  fc
    .anything({ withBigInt: true, withBoxedValues: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withObjectString: true, withTypedArray: true, withSparseArray: true })
    .map((v) => () => v),
  fc.constantFrom<unknown>(undefined, null, Symbol('s'), Symbol.for(SECRET), 10n, Number.NaN).map((v) => () => v),
  fc.constant(() => trapsThrow()),
  fc.constant(() => trapsThrow(new Error(SECRET))),
  fc.constant(() => revoked()),
  fc.constant(() => ({ name: 'ReloadError', code: SECRET, message: SECRET })),
  hostileObject,
);

type How = 'sync' | 'reject' | 'then-getter' | 'then-throws';
const how = fc.constantFrom<How>('sync', 'reject', 'then-getter', 'then-throws');

/** A stage body that fails with `value` in one of the ways a stage can fail. */
function failWith(value: unknown, mode: How): () => unknown {
  return () => {
    if (mode === 'sync') throw value;
    if (mode === 'reject') return Promise.reject(value);
    if (mode === 'then-getter') {
      return {
        // biome-ignore lint/suspicious/noThenProperty: a hostile thenable is the point
        get then() {
          throw value;
        },
      };
    }
    return {
      // biome-ignore lint/suspicious/noThenProperty: a hostile thenable is the point
      then() {
        throw value;
      },
    };
  };
}

describe('hostile thrown values', () => {
  test('property: whatever a stage or rollback throws, reload() resolves with an error and frees the target', async () => {
    await fc.assert(
      fc.asyncProperty(
        thrownValue,
        how,
        fc.constantFrom(...STAGES),
        fc.option(fc.tuple(thrownValue, how), { nil: undefined }),
        async (value, mode, stage, rollbackFails) => {
          const h = setup();
          let active = 'v0';
          const ok: ReloadStages<string, string> = {
            load: () => 'v1',
            verify: () => {},
            switch: (c) => {
              const prev = active;
              active = c;
              return prev;
            },
            unload: () => {},
            rollback: () => {},
          };
          const failing = failWith(value(), mode);
          // A failing rollback needs a failing switch or unload to be called at all.
          const failAt = stage === 'rollback' ? 'switch' : stage;
          const stages: ReloadStages<string, string> = { ...ok, [failAt]: failing };
          if (stage === 'rollback') stages.rollback = failWith(value(), mode) as () => void;
          else if (rollbackFails) stages.rollback = failWith(rollbackFails[0](), rollbackFails[1]) as () => void;

          const r = await h.reloads.reload({ target: 't', timeoutMs: 200 }, stages);
          assert.ok((OUTCOMES as readonly string[]).includes(r.outcome));
          assert.notEqual(r.outcome, 'success');
          assert.ok(r.error !== undefined, 'a failed run always carries an error');
          assert.ok(allowedType(r.error.code), `error.code ${String(r.error.code)}`);
          assert.equal(typeof r.error.message, 'string');
          assert.equal(await h.value('hotreload.in_progress', { 'hotreload.target': 't' }), 0);

          // The target is free: the next reload runs (and succeeds).
          const next = await h.reloads.reload({ target: 't', timeoutMs: 200, force: true }, { ...ok, load: () => 'v2' });
          assert.equal(next.outcome, 'success');

          const spans = await h.spans();
          for (const s of spans) {
            if (s.attributes['error.type'] !== undefined) assert.ok(allowedType(s.attributes['error.type']), String(s.attributes['error.type']));
            // The lookalikes' text is never exported: not as error.type, not as a message.
            assert.ok(!JSON.stringify({ a: s.attributes, e: s.events, st: s.status }).includes(SECRET), 'hostile text reached a span');
          }
          await assertNothingEscaped();
        },
      ),
      { numRuns: 150, seed: Number(process.env.FC_SEED ?? 20261201) },
    );
  });

  test('throw undefined (and null, a symbol, a BigInt) still yields an error', async () => {
    const h = setup();
    for (const value of [undefined, null, Symbol('x'), 1n]) {
      const r = await h.reloads.reload({ target: 't' }, { load: failWith(value, 'sync'), switch: () => undefined });
      assert.equal(r.outcome, 'failure');
      assert.equal(r.error?.code, '_OTHER');
      assert.equal(r.error?.stage, 'load');
      assert.equal(r.error?.cause, value);
    }
    const roots = (await h.spans()).filter((s) => s.name === 'hotreload');
    assert.deepEqual(roots.map((s) => s.attributes['error.type']), ['_OTHER', '_OTHER', '_OTHER', '_OTHER']);
  });

  test('a name getter that throws a Proxy: outcome failure, target free, nothing escapes', async () => {
    const h = setup();
    const evil = new Error(SECRET);
    Object.defineProperty(evil, 'name', {
      get() {
        throw trapsThrow();
      },
    });
    const r = await h.reloads.reload({ target: 't' }, { load: failWith(evil, 'reject'), switch: () => undefined });
    assert.equal(r.outcome, 'failure');
    assert.equal(r.error?.code, 'Error');
    const again = await h.reloads.reload({ target: 't' }, { load: () => 'x', switch: () => undefined });
    assert.equal(again.outcome, 'success');
    await assertNothingEscaped();
  });

  test('a lookalike ReloadError does not choose error.type; a genuine one from another copy of core does', async () => {
    const h = setup();
    const lookalike = { name: 'ReloadError', code: 'password_is_hunter2', message: SECRET, stage: 'verify' };
    const r = await h.reloads.reload({ target: 't' }, { load: failWith(lookalike, 'sync'), switch: () => undefined });
    assert.equal(r.error?.code, '_OTHER');
    assert.equal(r.error?.stage, 'load', 'a lookalike cannot choose the stage either');
    assert.ok(!r.error?.message.includes(SECRET));
    assert.equal(isReloadError(lookalike), false);
    assert.equal(isReloadError({ ...new ReloadError('x', 'y') }), false, 'a spread copy is not genuine');

    const errorLike = Object.assign(new Error(SECRET), { name: 'ReloadError', code: 'password_is_hunter2' });
    assert.equal(errorType(errorLike), 'ReloadError', 'an Error subclass lookalike is its class name');
    assert.equal(errorType(Object.assign(new Error('m'), { name: 'my secret name' })), 'Error', 'a name that is no class name is not exported');

    // A second copy of core (another module instance of errors.ts) builds genuine ReloadErrors too.
    const copy = (await import(`../src/errors.ts?copy=${Date.now()}`)) as typeof import('../src/errors.ts');
    assert.notEqual(copy.ReloadError, ReloadError);
    const foreign = new copy.ReloadError('restart_required', 'a restart is required');
    assert.equal(isReloadError(foreign), true);
    const r2 = await h.reloads.reload({ target: 't' }, { load: failWith(foreign, 'sync'), switch: () => undefined });
    assert.equal(r2.error?.code, 'restart_required');
    assert.equal(r2.error?.message, 'a restart is required');
  });

  test('ReloadError codes are a bounded snake_case shape', () => {
    assert.throws(() => new ReloadError('a'.repeat(65), 'm'), TypeError);
    assert.throws(() => new ReloadError('Has Spaces', 'm'), TypeError);
    // @ts-expect-error not a string
    assert.throws(() => new ReloadError(trapsThrow(), 'm'), TypeError);
    // @ts-expect-error not a stage
    assert.throws(() => new ReloadError('ok', 'm', { stage: 'elsewhere' }), TypeError);
    assert.equal(new ReloadError('a'.repeat(64), 'm').code.length, 64);
  });

  test('a late switch whose rollback throws synchronously raises no unhandled rejection', async () => {
    const h = setup();
    const r = await h.reloads.reload({ target: 't', timeoutMs: 20 }, {
      load: () => 'v1',
      switch: () => sleep(60).then(() => 'v0'),
      rollback: () => {
        throw trapsThrow();
      },
    });
    // The in-run rollback (of a switch that had not landed) throws too.
    assert.equal(r.outcome, 'failure');
    assert.equal(r.error?.code, 'rollback_failed');
    await sleep(80);
    await assertNothingEscaped();
  });

  test('an identify() returning a hostile identity fails the load instead of escaping', async () => {
    const h = setup();
    const r = await h.reloads.reload({ target: 't' }, { load: () => 'v1', switch: () => undefined, identify: () => trapsThrow() as never });
    assert.equal(r.outcome, 'failure');
    assert.equal(r.error?.code, 'TypeError');
    const p = await h.reloads.reload({ target: 't' }, { load: () => trapsThrow(), switch: () => undefined });
    assert.equal(p.outcome, 'failure', 'awaiting a Proxy candidate reads its then: a failed load');
    await assertNothingEscaped();
  });
});
