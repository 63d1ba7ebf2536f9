/**
 * What each worker has of its own and what stays with the supervisor: private listeners (each
 * worker's register endpoint and any reloadscope listener it opens are its own port, not one
 * round-robin handle) and the supervisor's secrets (never in a worker's environment).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { activate, appSource, eventually, freePort, get, startCluster, tempDir, writeApp } from './harness.ts';
import { startCli } from './cli-harness.ts';

const MODULES = { RS_REGISTER_API: import.meta.resolve('@reloadscope/register/api'), RS_CONFIG: import.meta.resolve('@reloadscope/config') };

/** What every worker wrote to `dir`, one JSON file each. */
async function reports<T>(dir: string, suffix: string): Promise<T[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(suffix));
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as T));
}

/**
 * Each worker reloads a target only it has (`only-slot-<its slot>`), opens config's HTTP trigger
 * on port 0, and writes where its register endpoint and its trigger listen.
 */
const privateListeners = `import { writeFileSync } from 'node:fs';
const { getReloadscope, getReloadInstrumentation } = await import(process.env.RS_REGISTER_API);
const { listenForReloads } = await import(process.env.RS_CONFIG);
const slot = process.env.RELOADSCOPE_CLUSTER_SLOT;
const reloads = getReloadInstrumentation();
const stages = { load: () => 'v1', switch: () => undefined };
await reloads.reload({ target: 'only-slot-' + slot }, stages);
const trigger = await listenForReloads({ reload: () => reloads.reload({ target: 'only-slot-' + slot, trigger: 'http', force: true }, stages) }, { token: 'token-0123456789' });
const metricsUrl = await getReloadscope().metricsUrl();
writeFileSync(process.env.RS_OUT + '/' + process.pid + '.listeners.json', JSON.stringify({ slot, pid: process.pid, metricsUrl, reloadUrl: trigger.url }));`;

test('every worker\'s register endpoint and config listener are its own port; every merged sample carries the slot of the worker it came from', { timeout: 90_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  const out = await tempDir(t, 'rs-cluster-out-');
  await writeApp(root, 'a', appSource('a', privateListeners));
  await activate(root, 'a');
  const WORKERS = 3;
  const { metricsPort } = await startCli(t, root, { workers: WORKERS, env: { ...MODULES, RS_OUT: out } });

  type Listeners = { slot: string; pid: number; metricsUrl: string; reloadUrl: string };
  await eventually(async () => (await reports(out, '.listeners.json')).length === WORKERS, 'every worker to report its listeners');
  const seen = await reports<Listeners>(out, '.listeners.json');
  assert.deepEqual(seen.map((w) => w.slot).sort(), ['0', '1', '2']);
  assert.equal(new Set(seen.map((w) => w.metricsUrl)).size, WORKERS, `one metrics port per worker: ${seen.map((w) => w.metricsUrl)}`);
  assert.equal(new Set(seen.map((w) => w.reloadUrl)).size, WORKERS, `one reload listener per worker: ${seen.map((w) => w.reloadUrl)}`);

  // A reload through one worker's trigger reloads that worker, every time.
  for (const w of seen) {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(w.reloadUrl, { method: 'POST', headers: { authorization: 'Bearer token-0123456789' } });
      const summary = (await res.json()) as { target: string };
      assert.equal(summary.target, `only-slot-${w.slot}`, `the trigger of slot ${w.slot} reached slot ${summary.target}`);
    }
  }

  const slotOf = (line: string) => /hotreload_cluster_worker="(\d+)"/.exec(line)?.[1];
  for (let i = 0; i < 8; i++) {
    const text = (await get(metricsPort, '/metrics')).body ?? '';
    const own = text.split('\n').filter((l) => l.startsWith('hotreload_reloads_total{') && l.includes('hotreload_target="only-slot-'));
    for (const line of own) {
      const target = /hotreload_target="only-slot-(\d+)"/.exec(line)![1];
      assert.equal(slotOf(line), target, `scrape ${i}: a sample of slot ${target}'s own target is labelled slot ${slotOf(line)}`);
    }
    for (const w of seen) {
      const success = own.find((l) => l.includes(`hotreload_target="only-slot-${w.slot}"`) && l.includes('hotreload_trigger="api"') && l.includes('hotreload_outcome="success"'));
      assert.ok(success?.endsWith(' 1'), `scrape ${i}: slot ${w.slot}'s own start-up reload is in the scrape: ${success}`);
    }
  }
});

/** Each worker writes everything a dependency or crash reporter could dump: env, argv, execArgv. */
const dumpEnv = `import { writeFileSync } from 'node:fs';
writeFileSync(process.env.RS_OUT + '/' + process.pid + '.env.json', JSON.stringify({ env: process.env, argv: process.argv, execArgv: process.execArgv }));`;

type Dump = { env: Record<string, string>; argv: string[]; execArgv: string[] };

test('the upgrade token stays in the supervisor: no worker of any generation has it in its environment, argv or execArgv; the trigger still upgrades', { timeout: 90_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  const out = await tempDir(t, 'rs-cluster-out-');
  await writeApp(root, 'a', appSource('a', dumpEnv));
  await writeApp(root, 'b', appSource('b', dumpEnv));
  await activate(root, 'a');
  const token = randomBytes(24).toString('hex');
  const triggerPort = await freePort();
  const { port } = await startCli(t, root, { env: { RS_OUT: out, RELOADSCOPE_CLUSTER_HTTP_TOKEN: token, RELOADSCOPE_CLUSTER_HTTP_PORT: String(triggerPort) } });
  await activate(root, 'b');
  const res = await fetch(`http://127.0.0.1:${triggerPort}/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(((await res.json()) as { outcome: string }).outcome, 'success', 'the token still works where it belongs');
  assert.equal((await get(port, '/')).body, 'b');
  const dumps = await reports<Dump>(out, '.env.json');
  assert.equal(dumps.length, 4, 'both generations dumped');
  for (const dump of dumps) {
    assert.ok(!JSON.stringify(dump).includes(token), 'the token is nowhere in a worker');
    assert.deepEqual(Object.keys(dump.env).filter((k) => k.startsWith('RELOADSCOPE_CLUSTER_HTTP')), [], 'nor are the supervisor\'s own trigger settings');
    assert.equal(dump.env.RS_OUT, out, 'the rest of the environment is passed on');
  }
});

test('an HTTP trigger token the supervisor got from any variable of its environment is not passed to the workers', { timeout: 60_000 }, async (t) => {
  const out = await tempDir(t, 'rs-cluster-out-');
  const token = randomBytes(24).toString('hex');
  // What a deployment does: the secret arrives in the environment under a name of its choosing.
  process.env.MY_UPGRADE_TOKEN = token;
  process.env.RS_OUT = out;
  t.after(() => {
    delete process.env.MY_UPGRADE_TOKEN;
    delete process.env.RS_OUT;
  });
  const { supervisor } = await startCluster(t, { a: appSource('a', dumpEnv) }, { http: { token: process.env.MY_UPGRADE_TOKEN } });
  assert.equal((await supervisor.upgrade()).outcome, 'success');
  const dumps = await reports<Dump>(out, '.env.json');
  assert.equal(dumps.length, 4);
  for (const dump of dumps) {
    assert.ok(!JSON.stringify(dump).includes(token), 'the token is nowhere in a worker');
    assert.equal(dump.env.RS_OUT, out);
  }
});
