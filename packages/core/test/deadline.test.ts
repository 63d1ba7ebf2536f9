import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { clock } from '../src/deadline.ts';
import { MAX_TIMER_MS } from '../src/index.ts';
import { setup } from './harness.ts';

// Every run's deadline shares one timer (src/deadline.ts): these are the ways sharing could lose one.

const never = () => new Promise<never>(() => {});
const CORE = fileURLToPath(new URL('../src/index.ts', import.meta.url));

/** Runs `body` (an ES module) in a fresh node with `ReloadInstrumentation` imported; its stdout. */
async function child(body: string): Promise<string> {
  const script = `import { ReloadInstrumentation } from ${JSON.stringify(CORE)};\n${body}`;
  // The timeout only ends a child that never exits: its failure is the assertion that follows.
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
  return stdout.trim();
}

test('a short deadline that starts while a long one is pending passes at its own time', { timeout: 20_000 }, async () => {
  const h = setup();
  let release!: (v: string) => void;
  const load = () =>
    new Promise<string>((resolve) => {
      release = resolve;
      // Only if this test fails (its timeout abandons it): then the slow run ends and lets the file's process exit.
      setTimeout(resolve, 25_000, 'late').unref();
    });
  const slow = h.reloads.reload({ target: 'slow', timeoutMs: 600_000 }, { load, switch: () => undefined });
  // Armed for the slow run's 10 minutes: the fast run's 30 ms must re-arm the shared timer.
  const fast = await h.reloads.reload({ target: 'fast', timeoutMs: 30 }, { load: never, switch: () => undefined });
  assert.equal(fast.outcome, 'timeout');
  assert.equal(fast.error?.code, 'timeout');
  release('v1');
  assert.equal((await slow).outcome, 'success', 'the long deadline is still pending, not passed');
  assert.equal(clock.pending, 0);
});

test('a run that ended before its deadline does not take the next run’s deadline with it', { timeout: 20_000 }, async () => {
  const h = setup();
  // Ends at once: the shared timer stays armed for its 40 ms, and must re-arm for the next run.
  const first = await h.reloads.reload({ target: 't', timeoutMs: 40 }, { load: () => 'v1', switch: () => undefined });
  assert.equal(first.outcome, 'success');
  const second = await h.reloads.reload({ target: 't', timeoutMs: 120 }, { load: never, switch: () => undefined });
  assert.equal(second.outcome, 'timeout');
  // Concurrent runs of several targets, each timing out at its own deadline.
  const runs = await Promise.all([90, 10, 50].map((ms) => h.reloads.reload({ target: `c${ms}`, timeoutMs: ms }, { load: never, switch: () => undefined })));
  assert.deepEqual(runs.map((r) => r.outcome), ['timeout', 'timeout', 'timeout']);
  assert.equal(clock.pending, 0);
});

test('a rollback gets a fresh deadline of its own after the run’s deadline passed', { timeout: 20_000 }, async () => {
  const h = setup();
  let rolledBack = false;
  const r = await h.reloads.reload(
    { target: 'rb', timeoutMs: 30 },
    {
      load: () => 'v1',
      switch: never,
      rollback: async () => {
        await new Promise((res) => setTimeout(res, 10));
        rolledBack = true;
      },
    },
  );
  assert.equal(r.outcome, 'timeout');
  assert.ok(rolledBack, 'the rollback ran to its end although the run deadline had passed');
  const hung = await h.reloads.reload({ target: 'rb2', timeoutMs: 30 }, { load: () => 'v1', switch: never, rollback: never });
  assert.equal(hung.outcome, 'failure', 'a rollback that hangs past its own deadline is a failed rollback');
  assert.equal(hung.error?.code, 'rollback_failed');
});

test('after the last reload the shared timer does not hold the process', async () => {
  const h = setup();
  await h.reloads.reload({ target: 'idle', timeoutMs: MAX_TIMER_MS }, { load: () => 'v1', switch: () => undefined });
  assert.equal(clock.pending, 0);
  assert.equal(clock.holding, false, 'a timer may stay armed (for 24 days here), but unref’ed');
});

test('a process whose reloads are done exits on its own, even with the longest timeoutMs', { timeout: 30_000 }, async () => {
  const out = await child(`
    const reloads = new ReloadInstrumentation();
    for (let n = 0; n < 3; n++) {
      const r = await reloads.reload({ target: 'cli', timeoutMs: ${MAX_TIMER_MS} }, { load: () => 'v' + n, switch: () => undefined });
      console.log(r.outcome);
    }
    process.on('exit', () => console.log('exited'));
  `);
  assert.deepEqual(out.split('\n'), ['success', 'success', 'success', 'exited']);
});

test('a reload in progress keeps the process alive until its deadline, so a hung stage still reports timeout', { timeout: 30_000 }, async () => {
  // The stage waits on nothing that holds the loop open: only the deadline does.
  const out = await child(`
    const reloads = new ReloadInstrumentation();
    const r = await reloads.reload({ target: 'cli', timeoutMs: 50 }, { load: () => new Promise(() => {}), switch: () => undefined });
    console.log(r.outcome, r.error?.code);
  `);
  assert.equal(out, 'timeout timeout');
});

test('a thenable that calls back twice cannot settle the stage after it', { timeout: 20_000 }, async () => {
  const h = setup();
  let verified = false;
  const r = await h.reloads.reload(
    { target: 'twice', timeoutMs: 10_000 },
    {
      // Fulfils at once, then again while verify is still running.
      load: () =>
        ({
          // biome-ignore lint/suspicious/noThenProperty: a thenable that calls back twice is the point
          then(onFulfilled: (v: string) => void) {
            onFulfilled('v1');
            setTimeout(() => onFulfilled('evil'), 5);
          },
        }) as unknown as Promise<string>,
      verify: async () => {
        await new Promise((res) => setTimeout(res, 30));
        verified = true;
      },
      switch: (c: string) => {
        assert.ok(verified, 'switch runs only after verify itself ended');
        assert.equal(c, 'v1');
      },
    },
  );
  assert.equal(r.outcome, 'success', r.error?.message);
});

test('stages running at once on one low-level run all time out at its deadline', { timeout: 20_000 }, async () => {
  const h = setup();
  const run = h.reloads.start({ target: 'many', timeoutMs: 30 });
  const settled = await Promise.allSettled([run.stage('load', never), run.stage('verify', never), run.stage('switch', never)]);
  assert.deepEqual(
    settled.map((s) => (s.status === 'rejected' ? (s.reason as { code?: string }).code : s.status)),
    ['timeout', 'timeout', 'timeout'],
  );
  assert.equal(run.fail(settled[0]!.status === 'rejected' ? settled[0].reason : undefined).outcome, 'timeout');
});
