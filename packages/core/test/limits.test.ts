import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { ReloadInstrumentation } from '../src/instrumentation.ts';
import type { ReloadInstrumentationConfig } from '../src/types.ts';
import { setup } from './harness.ts';

const lines: string[] = [];
before(() => {
  const log = (m: string) => void lines.push(m);
  diag.setLogger({ error: log, warn: log, info: log, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
});
after(() => diag.disable());

const stages = (value = 'v1') => ({ load: () => value, switch: () => undefined });

describe('target cap', () => {
  test('default 100: the 101st target resolves failure/target_limit without running a stage; one diag line', async () => {
    lines.length = 0;
    const h = setup();
    for (let i = 0; i < 100; i++) assert.equal((await h.reloads.reload({ target: `t${i}` }, stages())).outcome, 'success');
    let loads = 0;
    const refused = [];
    for (let i = 100; i < 150; i++) {
      refused.push(await h.reloads.reload({ target: `t${i}`, trigger: 'file' }, { load: () => ++loads, switch: () => undefined }));
    }
    assert.equal(loads, 0, 'nothing is loaded for a refused target');
    for (const r of refused) {
      assert.equal(r.outcome, 'failure');
      assert.equal(r.error?.code, 'target_limit');
      assert.match(r.error?.message ?? '', /maxTargets=100/);
      assert.equal(r.stage, undefined);
      assert.equal(r.trigger, 'file');
      assert.equal(r.traceId, undefined);
    }
    // The other entry points that would create a target throw the same error.
    assert.throws(() => h.reloads.start({ target: 'late' }), { code: 'target_limit' });
    assert.throws(() => h.reloads.declareTarget('late'), { code: 'target_limit' });
    assert.throws(() => h.reloads.claimTarget('late'), { code: 'target_limit' });
    const reportLines = lines.filter((l) => l.includes('maxTargets'));
    assert.equal(reportLines.length, 1, lines.join('\n'));
    assert.match(reportLines[0]!, /refused new target "t100"/);

    // Known targets keep working, and nothing about the refused ones is exported.
    assert.equal((await h.reloads.reload({ target: 't7', force: true }, stages('v2'))).outcome, 'success');
    assert.equal(h.reloads.activeVersions().length, 100);
    const targets = new Set<unknown>();
    for (const m of await h.metrics()) for (const p of m.points) targets.add(p.attributes['hotreload.target']);
    assert.equal(targets.size, 100);
    assert.equal(targets.has('t100'), false);
    assert.equal((await h.spans()).filter((s) => s.name === 'hotreload').length, 101);
  });

  test('maxTargets is configurable (and setConfig may raise it later)', async () => {
    const h = setup({ maxTargets: 2 });
    assert.equal((await h.reloads.reload({ target: 'a' }, stages())).outcome, 'success');
    h.reloads.declareTarget('b');
    assert.equal((await h.reloads.reload({ target: 'c' }, stages())).error?.code, 'target_limit');
    h.reloads.setConfig({ maxTargets: 3 });
    assert.equal((await h.reloads.reload({ target: 'c' }, stages())).outcome, 'success');
  });
});

describe('target claims', () => {
  test('a second claim of a held name throws target_in_use naming the target and the holder; release frees it', async () => {
    const h = setup();
    const claim = h.reloads.claimTarget('app-config', 'watchConfig(/etc/app/config.yaml)');
    assert.equal(claim.target, 'app-config');
    assert.throws(() => h.reloads.claimTarget('app-config'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'target_in_use');
      assert.match(err.message, /"app-config".*watchConfig\(\/etc\/app\/config\.yaml\).*`target`/);
      return true;
    });
    // Ad-hoc reloads of a claimed target still work (and serialise with the holder's runs).
    assert.equal((await h.reloads.reload({ target: 'app-config' }, stages())).outcome, 'success');
    const other = h.reloads.claimTarget('other');
    claim.release();
    claim.release(); // idempotent, and never releases someone else's claim
    const again = h.reloads.claimTarget('app-config');
    claim.release();
    assert.throws(() => h.reloads.claimTarget('app-config'), { code: 'target_in_use' });
    again.release();
    other.release();
    assert.throws(() => h.reloads.claimTarget(''), TypeError);
  });
});

describe('option validation', () => {
  const unset = Number(process.env.RELOADSCOPE_SURELY_UNSET_VARIABLE); // NaN
  const badDurations: unknown[] = [unset, 0, -5, '100', Number.POSITIVE_INFINITY, 2 ** 31, null, {}];

  test('ReloadInstrumentation config: a bad value throws a TypeError naming the option', () => {
    const cases: Array<[ReloadInstrumentationConfig, RegExp]> = [
      ...badDurations.map((v): [ReloadInstrumentationConfig, RegExp] => [{ defaultTimeoutMs: v as number }, /config\.defaultTimeoutMs/]),
      ...[unset, 0, -1, 1.5, '100', 2 ** 60].map((v): [ReloadInstrumentationConfig, RegExp] => [{ maxTargets: v as number }, /config\.maxTargets/]),
      [{ errorMessages: 'loud' as 'all' }, /config\.errorMessages/],
      [{ enabled: 'yes' as unknown as boolean }, /config\.enabled/],
    ];
    for (const [config, name] of cases) {
      assert.throws(() => new ReloadInstrumentation(config), (err: Error) => err instanceof TypeError && name.test(err.message), JSON.stringify(config));
      const ok = new ReloadInstrumentation();
      assert.throws(() => ok.setConfig(config), TypeError);
    }
    assert.doesNotThrow(() => new ReloadInstrumentation({ defaultTimeoutMs: 2 ** 31 - 1, maxTargets: 10_000, errorMessages: 'none' }));
  });

  test('reload()/start() options: timeoutMs, trigger, force and context are checked, naming the option', () => {
    const h = setup();
    for (const timeoutMs of badDurations) {
      assert.throws(() => h.reloads.reload({ target: 'x', timeoutMs: timeoutMs as number }, stages()), /options\.timeoutMs/);
      assert.throws(() => h.reloads.start({ target: 'x', timeoutMs: timeoutMs as number }), /options\.timeoutMs/);
    }
    assert.throws(() => h.reloads.reload({ target: 'x', trigger: 5 as unknown as 'api' }, stages()), /options\.trigger/);
    assert.throws(() => h.reloads.reload({ target: 'x', force: 'yes' as unknown as boolean }, stages()), /options\.force/);
    assert.throws(() => h.reloads.reload({ target: 'x', context: {} as never }, stages()), /options\.context/);
    assert.throws(() => h.reloads.declareTarget('x', [7 as unknown as 'api']), /triggers/);
    // A throwing getter on stages is a bad argument, not an escape.
    const evil = { switch: () => 1, get load(): never { throw new Error('getter'); } };
    assert.throws(() => h.reloads.reload({ target: 'x' }, evil), TypeError);
  });

  test('the low-level run checks its enum arguments', async () => {
    const h = setup();
    const run = h.reloads.start({ target: 'x' });
    await assert.rejects(run.stage('deploy' as 'load', () => 1), /run\.stage\(stage\)/);
    assert.throws(() => run.end('done' as 'success'), /run\.end\(outcome\)/);
    assert.throws(() => run.fail(new Error('x'), 'success' as 'failure'), /run\.fail/);
    assert.throws(() => run.candidate({ hash: 42 as unknown as string }), /identity\.hash/);
    assert.equal(run.end('success').outcome, 'success');
  });

  test('a timeout past setTimeout\'s range is refused instead of firing after 1 ms', async () => {
    const h = setup();
    assert.throws(() => h.reloads.reload({ target: 'x', timeoutMs: 2 ** 31 }, stages()), TypeError);
    const slow = { load: () => new Promise((r) => setTimeout(() => r('v'), 20)), switch: () => undefined };
    assert.equal((await h.reloads.reload({ target: 'x', timeoutMs: 2 ** 31 - 1 }, slow)).outcome, 'success');
  });
});

test('the exported option checks name the option and show what they got', async () => {
  const { checkPositiveInteger, checkDurationMs, checkOneOf, checkBoolean, checkObject } = await import('../src/index.ts');
  assert.throws(() => checkPositiveInteger('watchConfig: options.maxBytes', Number.NaN), /^TypeError: watchConfig: options\.maxBytes must be an integer from 1 to \d+, got NaN$/);
  assert.throws(() => checkPositiveInteger('x', 5, { max: 4 }), /from 1 to 4, got 5/);
  assert.equal(checkPositiveInteger('x', 0, { min: 0 }), 0);
  assert.throws(() => checkDurationMs('watch.pollMs', 0, { min: 10 }), /watch\.pollMs must be a number of milliseconds from 10 to 2147483647, got 0/);
  assert.equal(checkDurationMs('t', 1.5), 1.5);
  assert.throws(() => checkOneOf('format', 'toml', ['json', 'yaml']), /format must be one of "json", "yaml", got a string of length 4/);
  assert.throws(() => checkBoolean('leading', 'true'), /leading must be true or false, got a string of length 4/);
  assert.throws(() => checkObject('opts', 5 as unknown as object), /opts must be an object, got 5/);
  assert.deepEqual(checkObject('opts', undefined), {});
});
