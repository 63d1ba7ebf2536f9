import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { activate, appSource, eventually, freePort, get, load, sleep, tempDir, writeApp } from './harness.ts';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const run = promisify(execFile);

async function children(pid: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(pid)]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function scrape(port: number): Promise<string> {
  const s = await get(port, '/metrics');
  return s.body ?? '';
}

function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').at(-1));
  }
  return undefined;
}

/** The CLI over `root/current` with its Prometheus endpoint on a free port; killed with its workers after the test. */
async function startCli(t: TestContext, root: string, args: string[] = [], env: Record<string, string> = {}) {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(process.execPath, [CLI, '--release', join(root, 'current'), '--entry', 'server.mjs', '--workers', '2', ...args], {
    env: {
      ...process.env,
      PORT: String(port),
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      RELOADSCOPE_RUNTIME_METRICS: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(async () => {
    for (const pid of await children(child.pid!)) process.kill(pid, 'SIGKILL');
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await eventually(() => out.includes('workers running'), 'the supervisor to start');
  return { child, port, metricsPort };
}

test('reloadscope-cluster: a SIGUSR2 storm during an upgrade is coalesced; SIGTERM drains every worker and exits', { timeout: 90_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  await writeApp(root, 'a');
  await writeApp(root, 'b');
  await activate(root, 'a');
  const { child, port, metricsPort } = await startCli(t, root, ['--drain-timeout', '5000']);
  const firstWorkers = await children(child.pid!);
  assert.equal(firstWorkers.length, 2);

  const traffic = load(port, 3);
  t.after(() => traffic.stop());
  await activate(root, 'b');
  for (let i = 0; i < 20; i++) {
    child.kill('SIGUSR2');
    await sleep(10);
  }
  const labels = { hotreload_target: 'app-code', hotreload_trigger: 'signal' };
  // The storm is one run plus at most one coalesced follow-up, and both end.
  await eventually(async () => {
    const text = await scrape(metricsPort);
    return series(text, 'hotreload_in_progress', { hotreload_target: 'app-code' }) === 0 && series(text, 'hotreload_pending', { hotreload_target: 'app-code' }) === 0 && (series(text, 'hotreload_reloads_total', { ...labels, hotreload_outcome: 'success' }) ?? 0) >= 1;
  }, 'the storm to settle', 30_000);
  await sleep(300);
  const text = await scrape(metricsPort);
  const runs = series(text, 'hotreload_reloads_total', { ...labels, hotreload_outcome: 'success' })!;
  assert.ok(runs >= 1 && runs <= 2, `20 signals gave ${runs} upgrade runs`);
  assert.equal(series(text, 'hotreload_reloads_total', { ...labels, hotreload_outcome: 'failure' }), 0);
  assert.equal(series(text, 'hotreload_cluster_workers', { hotreload_target: 'app-code', hotreload_cluster_generation: 'current' }), 2);
  assert.equal((await get(port, '/')).body, 'b');

  const workers = await children(child.pid!);
  assert.equal(workers.length, 2);
  assert.ok(workers.every((pid) => !firstWorkers.includes(pid)));
  await traffic.stop();
  const failed = traffic.samples.filter((s) => s.error !== undefined || s.status !== 200);
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${traffic.samples.length} failed`);

  const started = Date.now();
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  assert.ok(Date.now() - started < 10_000);
  assert.deepEqual(workers.filter(alive), [], 'no worker outlives the supervisor');
});

const REGISTER_API = import.meta.resolve('@reloadscope/register/api');

test('one scrape of the instance returns the primary\'s upgrade telemetry and every worker\'s own, the same on every scrape', { timeout: 90_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  // Each worker does one config reload of its own at start-up, through the register the supervisor gave it.
  const configReload = `const { getReloadInstrumentation } = await import(process.env.RS_REGISTER_API);
await getReloadInstrumentation().reload({ target: 'app-config' }, { load: () => 'v1', switch: () => undefined });`;
  await writeApp(root, 'a', appSource('a', configReload));
  await writeApp(root, 'b', appSource('b', configReload));
  await activate(root, 'a');
  const { child, metricsPort } = await startCli(t, root, [], { RS_REGISTER_API: REGISTER_API });

  const facts = (text: string) => ({
    upgrades: series(text, 'hotreload_reloads_total', { hotreload_target: 'app-code', hotreload_trigger: 'startup', hotreload_outcome: 'success' }),
    current: series(text, 'hotreload_cluster_workers', { hotreload_target: 'app-code', hotreload_cluster_generation: 'current' }),
    worker0: series(text, 'hotreload_reloads_total', { hotreload_cluster_worker: '0', hotreload_target: 'app-config', hotreload_trigger: 'api', hotreload_outcome: 'success' }),
    worker1: series(text, 'hotreload_reloads_total', { hotreload_cluster_worker: '1', hotreload_target: 'app-config', hotreload_trigger: 'api', hotreload_outcome: 'success' }),
  });
  const expected = { upgrades: 1, current: 2, worker0: 1, worker1: 1 };
  await eventually(async () => JSON.stringify(facts(await scrape(metricsPort))) === JSON.stringify(expected), 'every worker in the scrape');
  for (let i = 0; i < 8; i++) {
    const text = await scrape(metricsPort);
    assert.deepEqual(facts(text), expected, `scrape ${i}`);
    // The primary's own series carry no worker label; no series is duplicated.
    const samples = text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.slice(0, l.lastIndexOf(' ')));
    assert.equal(new Set(samples).size, samples.length, 'no duplicate series');
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    assert.equal(new Set(types).size, types.length, 'one TYPE line per family');
  }

  // After an upgrade the slots are the same series, now from the new generation's workers.
  await activate(root, 'b');
  child.kill('SIGUSR2');
  await eventually(async () => {
    const text = await scrape(metricsPort);
    return series(text, 'hotreload_reloads_total', { hotreload_target: 'app-code', hotreload_trigger: 'signal', hotreload_outcome: 'success' }) === 1 && facts(text).worker0 === 1 && facts(text).worker1 === 1;
  }, 'the new generation in the scrape', 30_000);
  assert.equal((await scrape(metricsPort)).includes('hotreload_cluster_worker="2"'), false);
  child.kill('SIGTERM');
  await once(child, 'exit');
});
