/**
 * examples/zero-downtime as its README tells a newcomer to run it: a fresh clone of the committed
 * HEAD, ONE `npm ci`, then the README's commands exactly as written (`npm start -w …` through the
 * `reloadscope-cluster` bin npm linked, curl, `npm run deploy -w …`, curl), with a curl-like load
 * (a new connection per request) during the deploy, the metrics URL it names, and Ctrl-C. The only
 * change: the ports it names (3000, 9464) become free ones through the PORT and
 * OTEL_EXPORTER_PROMETHEUS_PORT variables the example reads, since other services may hold them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { freePort, load } from '../support/http-load.ts';
import { sample, scrape, start } from './child.ts';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');

/** The README's first sh block, comments stripped. */
function commands(readme: string): string[] {
  const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'examples/zero-downtime/README.md has no sh block');
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

const processesOf = async (pattern: string) => (await run('pgrep', ['-f', pattern]).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean);

test('examples/zero-downtime from a fresh clone: one npm ci, then its README\'s commands as written', { timeout: 600_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'reloadscope-zero-downtime-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const clone = join(dir, 'reloadscope');
  await run('git', ['clone', '--quiet', repo, clone]);
  // Same install as the README's setup, from the local cache when it has the packages.
  await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: clone, timeout: 400_000, maxBuffer: 16 * 1024 * 1024 });

  const readme = await readFile(join(clone, 'examples/zero-downtime/README.md'), 'utf8');
  const steps = commands(readme);
  assert.deepEqual(
    steps.map((c) => c.split(' ')[0]),
    ['npm', 'curl', 'npm', 'curl'],
    `the README's commands: ${JSON.stringify(steps)}`,
  );
  const [port, metricsPort] = [await freePort(), await freePort()];
  const env = { PORT: String(port), OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort) };
  const local = (command: string) => command.replaceAll('localhost:3000', `localhost:${port}`);
  const sh = (command: string) => run('sh', ['-c', local(command)], { cwd: clone, env: { ...process.env, ...env }, timeout: 120_000 });

  const service = start(t, 'sh', ['-c', steps[0]!], { cwd: clone, env });
  await service.waitFor(/^reload app-code: success \(startup\) .* · version (r\d+) · /, { timeoutMs: 60_000 });
  const started = await service.waitFor(/^reloadscope-cluster: 2 workers running (r\d+) on \S+:(\d+) \(pid (\d+)\)/, { timeoutMs: 60_000 });
  assert.equal(Number(started[2]), port);

  const first = (await sh(steps[1]!)).stdout;
  assert.match(first, new RegExp(`^hello from release ${started[1]} \\(worker \\d+\\)\\n$`));

  // `while true; do curl -s localhost:3000; done` during the deploy.
  const curls = load(port, 2, 120_000, { keepAlive: false });
  t.after(() => curls.stop());
  const deploy = await sh(steps[2]!);
  const version = /release (r\d+): success/.exec(deploy.stdout)?.[1];
  assert.ok(version && version !== started[1], deploy.stdout);
  assert.match(deploy.stdout, new RegExp(`release ${version} is serving`));
  await service.waitFor(new RegExp(`^reload app-code: success \\(signal\\) .* · version ${version} · `));
  assert.match((await sh(steps[3]!)).stdout, new RegExp(`^hello from release ${version} \\(worker \\d+\\)\\n$`));
  await curls.stop();
  const failed = curls.samples.filter((s) => s.error !== undefined || s.status !== 200 || !/^hello from release r\d+ /.test(s.body!));
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${curls.samples.length} requests during the deploy failed`);
  assert.ok(curls.samples.some((s) => s.body!.includes(version)) && curls.samples.some((s) => s.body!.includes(started[1]!)));

  // The metrics URL the README names: the upgrade, and both workers' own series.
  assert.match(readme, /http:\/\/localhost:9464\/metrics/);
  const text = await scrape(`http://localhost:${metricsPort}/metrics`);
  assert.equal(sample(text, 'hotreload_reloads_total', { hotreload_target: 'app-code', hotreload_trigger: 'signal', hotreload_outcome: 'success' }), 1);
  for (const slot of ['0', '1']) assert.ok(text.includes(`hotreload_cluster_worker="${slot}"`), `worker ${slot} in the scrape`);

  // Ctrl-C: the terminal sends SIGINT to the whole foreground group; the workers drain, all exit.
  const workers = await processesOf(`${clone}/examples/zero-downtime/bundle/releases/`);
  assert.equal(workers.length, 2, `the workers: ${workers.join(' ')}`);
  service.signal('SIGINT');
  await service.exited; // every process of the group closed its output: the supervisor is gone
  assert.ok(service.lines.some((l) => /^reloadscope-cluster: SIGINT: stopping, draining every worker/.test(l)), service.output());
  assert.deepEqual(await processesOf(`${clone}/examples/zero-downtime/bundle/releases/`), [], 'no worker outlives Ctrl-C');
});
