import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkReloadSignal, watchConfig } from '../src/index.ts';
import { eventually, sleep, tempDir } from './harness.ts';

const CHILD = fileURLToPath(new URL('./fixtures/signal-child.ts', import.meta.url));

function startChild(t: TestContext, file: string) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [CHILD, file], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  createInterface({ input: child.stdout }).on('line', (line) => events.push(JSON.parse(line)));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const waitFor = (pred: (e: Record<string, unknown>) => boolean, what: string) =>
    eventually(() => events.find(pred), `${what} (stderr: ${stderr.slice(-500)})`, 30_000);
  return { child, events, exit, waitFor };
}

test('a real child process reloads on SIGHUP and survives it; close() removes the listener', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'svc.json');
  await writeFile(file, '{"v":1}');
  const { child, exit, waitFor } = startChild(t, file);
  const ready = await waitFor((e) => e.event === 'ready', 'child ready');
  assert.equal(ready.v, 1);
  assert.equal(ready.sighupListeners, 1);

  await writeFile(file, '{"v":2}');
  child.kill('SIGHUP');
  const changed = await waitFor((e) => e.event === 'changed', 'reload after SIGHUP');
  assert.deepEqual(changed, { event: 'changed', v: 2, trigger: 'signal' });
  await waitFor((e) => e.event === 'run' && e.trigger === 'signal' && e.outcome === 'success', 'signal run recorded');

  // A bad version on SIGHUP is rejected and the process keeps running.
  await writeFile(file, '{"v":');
  child.kill('SIGHUP');
  await waitFor((e) => e.event === 'run' && e.outcome === 'failure' && e.code === 'parse_error', 'bad version rejected');
  assert.equal(child.exitCode, null);

  child.stdin.write('close\n');
  const closed = await waitFor((e) => e.event === 'closed', 'closed');
  assert.equal(closed.sighupListeners, 0);
  // With no listener left, SIGHUP has its default effect again: the listener really is gone.
  child.kill('SIGHUP');
  assert.equal((await exit).signal, 'SIGHUP');
});

test('a storm of 200 SIGHUPs is one leading and at most a couple of trailing runs, ending on the last file content', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'storm.json');
  await writeFile(file, '{"v":1}');
  const { child, events, waitFor } = startChild(t, file);
  await waitFor((e) => e.event === 'ready', 'child ready');
  writeFileSync(file, '{"v":2}');
  // Tight loops of kills (as from `while true; do kill -HUP $pid; done`), in 20 bursts with a short
  // pause, so the child handles many of them: signals sent back to back are merged by the kernel.
  // The content changes mid-storm.
  for (let i = 0; i < 200; i++) {
    if (i === 100) writeFileSync(file, '{"v":3}');
    child.kill('SIGHUP');
    if (i % 10 === 9) await sleep(5);
  }
  await waitFor((e) => e.event === 'changed' && e.v === 3, 'the last content to become active');
  // Wait until no run has started for well over a debounce window (200 ms), so none is missed.
  const signalRuns = () => events.filter((e) => e.event === 'run' && e.trigger === 'signal').length;
  let seen = -1;
  await eventually(async () => {
    const now = signalRuns();
    if (now === seen) return true;
    seen = now;
    await sleep(1_000);
    return undefined;
  }, 'signal runs to settle', 30_000);
  assert.ok(seen >= 1 && seen <= 3, `expected 1–3 signal runs for 200 SIGHUPs, got ${seen}`);
  const changes = events.filter((e) => e.event === 'changed');
  assert.deepEqual(changes.at(-1), { event: 'changed', v: 3, trigger: 'signal' });
  assert.equal(child.exitCode, null);
});

test('SIGUSR1 is refused at start-up, before the config is even read', async () => {
  await assert.rejects(
    watchConfig({ path: '/nonexistent/config.yaml', signal: 'SIGUSR1' }),
    (err: Error & { code?: string }) => err.code === 'signal_refused' && /inspector/.test(err.message),
  );
  assert.equal(process.listenerCount('SIGUSR1'), 0);
  assert.throws(() => checkReloadSignal('SIGTERM'), { code: 'signal_refused' });
  assert.equal(checkReloadSignal('SIGUSR2'), 'SIGUSR2');
});

test('a failed start-up removes its signal listener', async (t) => {
  const dir = await tempDir(t);
  const before = process.listenerCount('SIGHUP');
  await assert.rejects(watchConfig({ path: join(dir, 'missing.yaml') }), { code: 'not_found' });
  assert.equal(process.listenerCount('SIGHUP'), before);
});

test('a SIGHUP during the first load neither kills the process nor is lost', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'early.json');
  await writeFile(file, '{"v":1}');
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/early-signal-child.ts', import.meta.url)), file], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const events: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout }).on('line', (line) => events.push(JSON.parse(line)));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await eventually(() => events.find((e) => e.event === 'loading'), 'the first load to be under way', 30_000);
  await writeFile(file, '{"v":2}');
  child.kill('SIGHUP');
  const started = await eventually(() => events.find((e) => e.event === 'started'), 'start-up to finish', 30_000);
  // The startup run read v1 (the file changed after it began); the replayed signal run took v2.
  assert.deepEqual(started, { event: 'started', v: 2, runs: ['startup:success', 'signal:success'] });
  assert.deepEqual(await exit, { code: 0, signal: null });
});
