import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';

const CHILD = fileURLToPath(new URL('./fixtures/exact-heap-child.ts', import.meta.url));
const RELOADS = 20;

/** Major GCs seen during RELOADS reloads in a fresh process, and heap-delta points recorded. */
async function run(nodeArgs: string[], mode: 'on' | 'off' | 'default', env: Record<string, string> = {}, graceMs?: number) {
  const childEnv = { ...process.env, ...env };
  if (!('RELOADSCOPE_EXACT_HEAP' in env)) delete childEnv.RELOADSCOPE_EXACT_HEAP;
  const { stdout } = await promisify(execFile)(process.execPath, [...nodeArgs, CHILD, mode, String(RELOADS), ...(graceMs === undefined ? [] : [String(graceMs)])], { env: childEnv, timeout: 30_000 });
  return JSON.parse(stdout) as { majors: number; points: number };
}

test('--expose-gc alone does not make the probes collect on every reload', async () => {
  const r = await run(['--expose-gc'], 'default');
  assert.equal(r.points, RELOADS);
  assert.ok(r.majors < RELOADS, `${r.majors} major GCs in ${RELOADS} reloads`);
});

test('exactHeap: true runs a full GC before and after every reload', async () => {
  const r = await run(['--expose-gc'], 'on');
  assert.equal(r.points, RELOADS);
  assert.ok(r.majors >= 2 * RELOADS, `${r.majors} major GCs in ${RELOADS} reloads`);
});

test('RELOADSCOPE_EXACT_HEAP=true opts in when the option is not given; the option wins over it', async () => {
  const byEnv = await run(['--expose-gc'], 'default', { RELOADSCOPE_EXACT_HEAP: 'true' });
  assert.ok(byEnv.majors >= 2 * RELOADS, `${byEnv.majors} major GCs with the env switch`);
  const optionOff = await run(['--expose-gc'], 'off', { RELOADSCOPE_EXACT_HEAP: 'true' });
  assert.ok(optionOff.majors < RELOADS, `${optionOff.majors} major GCs with exactHeap: false`);
});

test('exactHeap without --expose-gc degrades to plain readings; reloads and heap points go on', async () => {
  const r = await run([], 'on');
  assert.equal(r.points, RELOADS);
  assert.ok(r.majors < RELOADS, `${r.majors} major GCs in ${RELOADS} reloads`);
});

test('with gc exposed, retention forces at most one full GC per second, however fast the target reloads', async () => {
  // 20 reloads 5+ ms apart with a 0 ms grace period: one forced GC per unload would be ~20.
  const r = await run(['--expose-gc'], 'default', {}, 0);
  assert.equal(r.points, RELOADS);
  assert.ok(r.majors <= 3, `${r.majors} major GCs in ${RELOADS} reloads`);
});
