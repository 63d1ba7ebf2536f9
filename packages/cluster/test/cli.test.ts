import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { alive, CLI, children, scrape, series, startCli } from './cli-harness.ts';
import { activate, appSource, eventually, get, load, sleep, tempDir, writeApp } from './harness.ts';

test('reloadscope-cluster: a SIGUSR2 storm during an upgrade is coalesced; SIGTERM drains every worker and exits', { timeout: 90_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  await writeApp(root, 'a');
  await writeApp(root, 'b');
  await activate(root, 'a');
  const { child, port, metricsPort, lines } = await startCli(t, root, { args: ['--drain-timeout', '5000'] });
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
  // One line per upgrade run, as for the first generation's start.
  assert.equal(lines.filter((l) => /^reload app-code: success \(signal\) in .* · version b · hash [0-9a-f]{12} · gen \d+$/.test(l)).length, runs, lines.join('\n'));
  assert.equal(lines.filter((l) => /^reload app-code: success \(startup\) .* · version a · /.test(l)).length, 1, lines.join('\n'));
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
  const { child, metricsPort } = await startCli(t, root, { env: { RS_REGISTER_API: REGISTER_API } });

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

test('with its defaults and worker telemetry on, a release that never listens, or exits right after listening, is refused; the service keeps answering', { timeout: 90_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  await writeApp(root, 'a');
  await writeApp(root, 'silent', 'setInterval(() => {}, 1000);\n');
  await writeApp(root, 'dies', appSource('dies', "server.on('listening', () => setTimeout(() => process.exit(3), 300));"));
  await activate(root, 'a');
  const { child, port, metricsPort } = await startCli(t, root, { args: ['--ready-timeout', '3000'] });
  const workers = await children(child.pid!);
  const traffic = load(port, 3);
  t.after(() => traffic.stop());
  const count = async (outcome: string) => series(await scrape(metricsPort), 'hotreload_reloads_total', { hotreload_target: 'app-code', hotreload_trigger: 'signal', hotreload_outcome: outcome });
  for (const [i, release] of ['silent', 'dies'].entries()) {
    await activate(root, release);
    child.kill('SIGUSR2');
    await eventually(async () => (await count('failure')) === i + 1 || (await count('success')) !== 0, `the upgrade to ${release} to end`, 30_000);
    assert.equal(await count('success'), 0, `${release} was reported a success`);
    assert.deepEqual(await children(child.pid!), workers, `${release}: only the old workers run`);
  }
  await traffic.stop();
  const failed = traffic.samples.filter((s) => s.error !== undefined || s.status !== 200 || s.body !== 'a');
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${traffic.samples.length} failed`);
  assert.equal((await get(port, '/')).body, 'a');
});

test('a first generation that only opens reloadscope\'s own telemetry endpoint never becomes the service: the CLI exits 1 and says why', { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  await writeApp(root, 'silent', 'setInterval(() => {}, 1000);\n');
  await activate(root, 'silent');
  const cli = await startCli(t, root, { args: ['--ready-timeout', '2000'], wait: false });
  const { code } = await cli.exited;
  assert.equal(code, 1, cli.lines.join('\n'));
  assert.ok(cli.lines.some((l) => /the first generation did not start: ready_timeout/.test(l)), cli.lines.join('\n'));
  await sleep(100);
});

test('--help lists every flag, signal and environment variable and exits 0; an unknown option exits 2 with a clear message', { timeout: 30_000 }, async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [CLI, ...args], { env: { ...process.env, OTEL_SDK_DISABLED: 'true' } }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }));
    });
  const help = await run(['--help']);
  assert.equal(help.code, 0, help.stderr);
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const flags = [...readme.matchAll(/^\| `(--[a-z-]+)/gm)].map((m) => m[1]!);
  assert.ok(flags.length >= 10, `the README's flag table: ${flags.join(' ')}`);
  const signalTable = readme.split(/^## Signals$/m)[1]!.split(/^## /m)[0]!;
  const signals = [...new Set([...signalTable.matchAll(/^\| ([A-Z0-9, ]+?)(?: of (?:a worker|the supervisor))? \|/gm)].flatMap((m) => m[1]!.split(', ')))];
  assert.ok(signals.length >= 12, `the README's signal table: ${signals.join(' ')}`);
  for (const word of [...flags, ...signals, 'RELOADSCOPE_CLUSTER_HTTP_TOKEN', 'RELOADSCOPE_CLUSTER_HTTP_PORT', 'OTEL_EXPORTER_PROMETHEUS_PORT', 'OTEL_SDK_DISABLED']) {
    assert.ok(help.stdout.includes(word), `--help mentions ${word}:\n${help.stdout}`);
  }
  assert.equal((await run(['-h'])).stdout, help.stdout);
  const unknown = await run(['--release', '/srv/app', '--entry', 'server.js', '--wrokers', '2']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^reloadscope-cluster: Unknown option '--wrokers'/);
  assert.match(unknown.stderr, /--help/);
  for (const [flag, value] of [['--port', 'http'], ['--port', '70000'], ['--workers', '0'], ['--ready-timeout', '0'], ['--drain-timeout', '99999999999'], ['--health', 'healthz'], ['--stabilize', '1.5']]) {
    const bad = await run(['--release', '/srv/app', '--entry', 'server.js', flag!, value!]);
    assert.equal(bad.code, 2, `${flag} ${value}: ${bad.stderr}`);
    assert.match(bad.stderr, new RegExp(`^reloadscope-cluster: ${flag} must be`), `${flag} ${value}`);
  }
});

test('the reloadscope-cluster bin is a committed file; where dist/ is not built it says so and exits 1', { timeout: 30_000 }, async (t) => {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string>; files: string[] };
  const bin = manifest.bin['reloadscope-cluster']!;
  assert.ok(!bin.includes('dist/'), `the bin (${bin}) must exist before prepare builds dist/`);
  assert.ok(manifest.files.includes(bin.replace(/^\.\//, '').split('/')[0]!), 'the bin is packed');
  const dir = await tempDir(t, 'rs-cluster-bin-');
  await mkdir(join(dir, 'bin'));
  await copyFile(new URL(`../${bin}`, import.meta.url), join(dir, bin));
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(dir, bin), '--help'], (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }));
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^reloadscope-cluster: @reloadscope\/cluster is not built \(dist\/cli\.js is missing\): run `npm run build`/);
});

test('--stabilize lengthens the window a new worker must survive: a release that exits 1.5 s after listening is refused', { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  await writeApp(root, 'a');
  await writeApp(root, 'late', appSource('late', "server.on('listening', () => setTimeout(() => process.exit(3), 1500));"));
  await activate(root, 'a');
  const cli = await startCli(t, root, { telemetry: false, args: ['--stabilize', '2500'] });
  await activate(root, 'late');
  const from = cli.lines.length;
  cli.child.kill('SIGUSR2');
  await cli.waitFor(/^reload app-code: failure \(signal\) .* worker_exited: worker \d+ exited \(code 3\) within the stabilization window · candidate late · version a · /, from);
  assert.equal((await get(cli.port, '/')).body, 'a');
});
