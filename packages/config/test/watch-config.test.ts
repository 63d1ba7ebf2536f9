import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import { ReloadError, sha256Hex } from '@reloadscope/core';
import { z } from 'zod';
import { type WatchConfigOptions, watchConfig } from '../src/index.ts';
import { telemetry, tempDir } from './harness.ts';

async function setup(t: TestContext, content: string, extra: Partial<WatchConfigOptions<unknown>> = {}) {
  const dir = await tempDir(t);
  const file = join(dir, 'app.yaml');
  await writeFile(file, content);
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const config = await watchConfig<{ v: number; extra?: string }>({
    path: file,
    instrumentation: tel.reloads,
    watch: false,
    signal: false,
    ...(extra as Partial<WatchConfigOptions<{ v: number }>>),
  });
  t.after(() => config.close());
  return { file, tel, config };
}

test('startup is strict: missing, unparsable or schema-violating configs reject with a code', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(watchConfig({ path: join(dir, 'nope.yaml'), signal: false }), { code: 'not_found', name: 'ReloadError' });
  await writeFile(join(dir, 'bad.json'), '{"v":');
  await assert.rejects(watchConfig({ path: join(dir, 'bad.json'), signal: false }), { code: 'parse_error' });
  await writeFile(join(dir, 'wrong.yaml'), 'v: text\n');
  await assert.rejects(watchConfig({ path: join(dir, 'wrong.yaml'), signal: false, schema: z.object({ v: z.number() }) }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'schema_violation');
    assert.match(err.message, /at v$/);
    return true;
  });
  await assert.rejects(watchConfig({ path: join(dir, 'x.json'), maxBytes: -1 }), TypeError);
  await assert.rejects(watchConfig({ path: join(dir, 'x.json'), format: 'toml' as 'json' }), TypeError);
});

test('startup is one traced run with trigger startup; identical content is unchanged', async (t) => {
  const { tel, config } = await setup(t, 'v: 1\n');
  assert.equal(config.hash, sha256Hex('v: 1\n'));
  const startup = (await tel.spans()).find((s) => s.name === 'hotreload');
  assert.equal(startup?.attributes['hotreload.trigger'], 'startup');
  assert.equal(startup?.attributes['hotreload.outcome'], 'success');
  assert.equal(startup?.attributes['hotreload.config.hash'], config.hash);
  const again = await config.reload({ trigger: 'api' });
  assert.equal(again.outcome, 'unchanged');
  assert.deepEqual(
    again.stages.map((s) => s.stage),
    ['load'],
  );
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': 'app.yaml', 'hotreload.trigger': 'api', 'hotreload.outcome': 'unchanged' }), 1);
});

test('a change runs load, verify, switch, unload and notifies listeners with the version signal', async (t) => {
  const { file, tel, config } = await setup(t, 'v: 1\n');
  const firstSignal = config.versionSignal;
  const seen: Array<[number, number, string]> = [];
  let listenerSignal: AbortSignal | undefined;
  config.onChange((next, previous, info) => {
    seen.push([next.v, previous.v, info.trigger]);
    listenerSignal = info.signal;
  });
  await writeFile(file, 'v: 2\n');
  const r = await config.reload({ trigger: 'api' });
  assert.equal(r.outcome, 'success');
  assert.deepEqual(r.stages.map((s) => s.stage), ['load', 'verify', 'switch', 'unload']);
  assert.deepEqual(seen, [[2, 1, 'api']]);
  assert.equal(firstSignal.aborted, true, 'the replaced version was released');
  assert.equal(listenerSignal, config.versionSignal);
  assert.equal(config.versionSignal.aborted, false);
  assert.equal(await tel.metric('hotreload.generation', { 'hotreload.target': 'app.yaml' }), 2);
});

test('a version signal first read after its version ended is already aborted with the reason', async (t) => {
  const { file, config } = await setup(t, 'v: 1\n');
  // v1's signal is never read while v1 is active; the listener reads v2's only inside the switch.
  let v2Signal: AbortSignal | undefined;
  const off = config.onChange((_next, _previous, info) => {
    v2Signal = info.signal;
  });
  await writeFile(file, 'v: 2\n');
  assert.equal((await config.reload()).outcome, 'success');
  assert.equal(v2Signal?.aborted, false);
  off(); // nobody reads v3's signal until after close()
  await writeFile(file, 'v: 3\n');
  assert.equal((await config.reload()).outcome, 'success');
  assert.equal(v2Signal?.aborted, true, 'v2 was unloaded');
  assert.match(String((v2Signal?.reason as Error | undefined)?.message), /unloaded/);
  await config.close();
  const closed = config.versionSignal;
  assert.equal(closed.aborted, true, 'the signal of the version active at close(), first read after it');
  assert.equal((closed.reason as Error).name, 'AbortError');
  assert.match((closed.reason as Error).message, /closed/);
});

test('a throwing listener rolls the switch back for every listener', async (t) => {
  const { file, tel, config } = await setup(t, 'v: 1\n');
  const firstSignal = config.versionSignal;
  const calls: string[] = [];
  config.onChange((next, previous) => {
    calls.push(`a:${previous.v}->${next.v}`);
  });
  const off = config.onChange((next) => {
    calls.push(`b:${next.v}`);
    if (next.v === 2) throw new Error('cannot apply 2');
  });
  let rejectedSignal: AbortSignal | undefined;
  config.onChange((_n, _p, info) => {
    calls.push('c');
    rejectedSignal = info.signal;
  });
  await writeFile(file, 'v: 2\n');
  const r = await config.reload();
  assert.equal(r.outcome, 'rollback');
  assert.equal(r.error?.code, 'subscriber_failed');
  assert.deepEqual(config.current, { v: 1 });
  assert.equal(config.hash, sha256Hex('v: 1\n'));
  assert.equal(firstSignal.aborted, false, 'the restored version is still live');
  // a and b saw 2 and were told to go back to 1; c never saw 2.
  assert.deepEqual(calls, ['a:1->2', 'b:2', 'a:2->1', 'b:1']);
  assert.equal(rejectedSignal, undefined);
  const spans = await tel.spans();
  const root = spans.find((s) => s.name === 'hotreload' && s.attributes['hotreload.outcome'] === 'rollback');
  assert.equal(root?.status.code, SpanStatusCode.ERROR);
  assert.equal(root?.attributes['error.type'], 'subscriber_failed');
  assert.ok(spans.some((s) => s.name === 'hotreload.rollback' && s.parentSpanContext?.spanId === root?.spanContext().spanId));

  off();
  const ok = await config.reload();
  assert.equal(ok.outcome, 'success');
  assert.deepEqual(config.current, { v: 2 });
  assert.equal(firstSignal.aborted, true);
});

test('a listener that throws a ReloadError keeps its own code on the rollback', async (t) => {
  const { file, tel, config } = await setup(t, 'v: 1\n');
  config.onChange((next) => {
    if (next.v !== 1) throw new ReloadError('restart_required', 'v changes need a restart');
  });
  await writeFile(file, 'v: 2\n');
  const r = await config.reload();
  assert.equal(r.outcome, 'rollback');
  assert.equal(r.error?.code, 'restart_required');
  assert.deepEqual(config.current, { v: 1 });
  const root = (await tel.spans()).find((s) => s.attributes['hotreload.outcome'] === 'rollback');
  assert.equal(root?.attributes['error.type'], 'restart_required');
});

test('observers are told which version was unloaded (what leak probes hold weakly)', async (t) => {
  const { file, tel, config } = await setup(t, 'v: 1\n');
  const unloaded: unknown[] = [];
  tel.reloads.addObserver({ versionUnloaded: (_run, previous) => unloaded.push(previous) });
  const first = config.current;
  await writeFile(file, 'v: 2\n');
  await config.reload();
  assert.equal(unloaded.length, 1);
  assert.equal((unloaded[0] as { value: unknown }).value, first);
});

test('integrity: a sha256 file in sha256sum format is accepted when it matches', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'c.yaml');
  await writeFile(file, 'v: 1\n');
  await writeFile(`${file}.sha256`, `${sha256Hex('v: 1\n').toUpperCase()}  c.yaml\n`);
  const config = await watchConfig({ path: file, watch: false, signal: false, verify: { sha256File: `${file}.sha256` } });
  t.after(() => config.close());
  await writeFile(file, 'v: 2\n');
  await writeFile(`${file}.sha256`, sha256Hex('v: 2\n'));
  assert.equal((await config.reload()).outcome, 'success');
  await assert.rejects(
    watchConfig({ path: file, watch: false, signal: false, verify: { sha256File: join(dir, 'absent.sha256') } }),
    { code: 'missing_checksum' },
  );
});

test('a reload that exceeds its deadline times out and keeps the active version', async (t) => {
  const { file, config } = await setup(t, 'v: 1\n', {
    format: async (bytes) => {
      const text = Buffer.from(bytes).toString();
      if (text.includes('slow')) await new Promise((r) => setTimeout(r, 2_000));
      return { v: text.length };
    },
  });
  const before = config.current;
  await writeFile(file, 'slow');
  const r = await config.reload({ timeoutMs: 100 });
  assert.equal(r.outcome, 'timeout');
  assert.equal(config.current, before);
});

test('reload({ force: true }) queued behind a running reload and coalesced with a plain one is still forced, not unchanged', async (t) => {
  const { file, config } = await setup(t, 'v: 1\n');
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let holding = true;
  let waiting!: () => void;
  const switching = new Promise<void>((r) => {
    waiting = r;
  });
  config.onChange(async () => {
    if (!holding) return;
    holding = false;
    waiting();
    await gate;
  });
  await writeFile(file, 'v: 2\n');
  const running = config.reload({ trigger: 'file' });
  await switching;
  // Both arrive while v2's switch waits for the listener: they coalesce into one follow-up run.
  const forced = config.reload({ force: true });
  const plain = config.reload({ trigger: 'file' });
  release();
  assert.equal((await running).outcome, 'success');
  const [f, p] = await Promise.all([forced, plain]);
  assert.equal(f, p, 'one coalesced run');
  assert.equal(f.outcome, 'success', 'the caller who asked for force got a forced reload');
  assert.equal(f.generation, 3);
  assert.deepEqual(config.current, { v: 2 });
});
