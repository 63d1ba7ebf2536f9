import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import { sha256Hex } from '../src/hash.ts';
import type { ReloadObserver } from '../src/types.ts';
import { setup, sleep } from './harness.ts';

const T = { 'hotreload.target': 'rules' };

test('start()/stage()/end() around hand-written reload code', async () => {
  const h = setup();
  const run = h.reloads.start({ target: 'rules', trigger: 'file' });
  const text = await run.stage('load', async () => 'rule set 2');
  run.candidate({ hash: sha256Hex(text), version: '2' });
  await run.stage('verify', () => undefined);
  await run.stage('switch', () => 'rule set 1');
  await run.stage('unload', () => undefined);
  const r = run.end('success');
  assert.equal(r.outcome, 'success');
  assert.equal(r.version, '2');
  assert.equal(r.generation, 1);
  assert.deepEqual(r.stages.map((s) => s.stage), ['load', 'verify', 'switch', 'unload']);
  assert.equal(run.end('failure'), r, 'ending twice returns the first result');
  const spans = await h.spans();
  assert.deepEqual(spans.map((s) => s.name), ['hotreload.load', 'hotreload.verify', 'hotreload.switch', 'hotreload.unload', 'hotreload']);
  assert.equal(await h.value('hotreload.config.info', { ...T, 'hotreload.config.hash': sha256Hex(text), 'hotreload.config.version': '2' }), 1);
  await assert.rejects(run.stage('load', () => 1), /after the run ended/);
});

test('a failing stage rethrows to the caller and run.fail() records the failure', async () => {
  const h = setup();
  const run = h.reloads.start({ target: 'rules', trigger: 'signal' });
  const err = await run.stage('load', () => {
    throw new SyntaxError('bad rule');
  }).catch((e: unknown) => e);
  assert.ok(err instanceof SyntaxError);
  const r = run.fail(err);
  assert.equal(r.outcome, 'failure');
  assert.equal(r.error?.code, 'SyntaxError');
  const root = (await h.spans()).find((s) => s.name === 'hotreload');
  assert.equal(root?.status.code, SpanStatusCode.ERROR);
  assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'signal', 'hotreload.outcome': 'failure' }), 1);
  assert.equal(await h.value('hotreload.in_progress', T), 0);
});

test('low-level deadline: stage() rejects with a timeout error; fail() reports timeout', async () => {
  const h = setup();
  const run = h.reloads.start({ target: 'rules', timeoutMs: 20 });
  const err = await run.stage('load', () => sleep(500)).catch((e: unknown) => e);
  assert.equal((err as { code?: string }).code, 'timeout');
  assert.equal(run.signal.aborted, true);
  assert.equal(run.fail(err).outcome, 'timeout');
});

test('observers see every run event; a throwing observer never breaks the reload', async () => {
  const h = setup();
  const events: string[] = [];
  const observer: ReloadObserver = {
    runStarted: (r) => events.push(`start:${r.target}`),
    stageStarted: (_r, s) => events.push(`>${s}`),
    stageEnded: (_r, s, o) => events.push(`<${s}:${o}`),
    versionUnloaded: (_r, prev) => events.push(`unloaded:${String(prev)}`),
    runEnded: (_r, res) => events.push(`end:${res.outcome}`),
  };
  const off = h.reloads.addObserver(observer);
  h.reloads.addObserver({
    runStarted: () => {
      throw new Error('broken add-on');
    },
  });
  let active = 'v0';
  const r = await h.reloads.reload({ target: 'rules' }, {
    load: () => 'v1',
    switch: (c) => {
      const p = active;
      active = c;
      return p;
    },
    unload: () => undefined,
  });
  assert.equal(r.outcome, 'success');
  assert.deepEqual(events, ['start:rules', '>load', '<load:success', '>switch', '<switch:success', '>unload', '<unload:success', 'unloaded:v0', 'end:success']);
  off();
  await h.reloads.reload({ target: 'rules' }, { load: () => 'v2', switch: () => 'v1' });
  assert.equal(events.length, 9, 'unsubscribed observer hears nothing more');
});

test('activeVersions() reports state without content', async () => {
  const h = setup();
  h.reloads.declareTarget('rules', ['startup', 'file']);
  assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'startup', 'hotreload.outcome': 'success' }), 0);
  assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'file', 'hotreload.outcome': 'failure' }), 0);
  assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'signal', 'hotreload.outcome': 'failure' }), undefined);
  await h.reloads.reload({ target: 'rules', trigger: 'startup' }, { load: () => 'x', switch: () => undefined });
  assert.deepEqual(
    h.reloads.activeVersions().map((v) => [v.target, v.generation, v.hash, v.consecutiveFailures]),
    [['rules', 1, sha256Hex('x'), 0]],
  );
});

test('a stage settles once however its value behaves, with and without a deadline', async () => {
  for (const timeoutMs of [undefined, 5_000]) {
    const h = setup();
    const ended: string[] = [];
    h.reloads.addObserver({ stageEnded: (_r, s, outcome) => ended.push(`${s}:${outcome}`) });
    const run = h.reloads.start({ target: 'rules', timeoutMs });
    // A thenable calling back twice (value, then error): the first call settles the stage.
    const twice = {
      // biome-ignore lint/suspicious/noThenProperty: a hostile thenable is the point
      then(ok: (v: unknown) => void, fail: (e: unknown) => void) {
        ok('first');
        fail(new Error('second'));
      },
    };
    assert.equal(await run.stage('load', () => twice as unknown as Promise<string>), 'first');
    // A thenable whose then() throws: the stage fails with that error.
    const throwing = {
      // biome-ignore lint/suspicious/noThenProperty: a hostile thenable is the point
      then() {
        throw new RangeError('then threw');
      },
    };
    await assert.rejects(run.stage('verify', () => throwing as unknown as Promise<void>), RangeError);
    // A plain value and a synchronous throw settle before stage() returns.
    const plain = run.stage('switch', () => 'v1');
    assert.deepEqual(ended.slice(-1), ['switch:success'], `timeoutMs=${timeoutMs}: a plain value settles at once`);
    assert.equal(await plain, 'v1');
    await assert.rejects(
      run.stage('unload', () => {
        throw new TypeError('sync');
      }),
      TypeError,
    );
    run.end('success');
    assert.deepEqual(ended, ['load:success', 'verify:failure', 'switch:success', 'unload:failure'], `timeoutMs=${timeoutMs}`);
    const spans = await h.spans();
    assert.equal(spans.filter((s) => s.name === 'hotreload.load').length, 1, 'the twice-calling stage ended its span once');
    assert.deepEqual(
      spans.filter((s) => s.name !== 'hotreload').map((s) => `${s.name}:${s.status.code}`),
      [`hotreload.load:${SpanStatusCode.UNSET}`, `hotreload.verify:${SpanStatusCode.ERROR}`, `hotreload.switch:${SpanStatusCode.UNSET}`, `hotreload.unload:${SpanStatusCode.ERROR}`],
    );
  }
});
