/**
 * What the examples print is true in the state they print it: the URL config-service says it listens
 * on answers; its metrics line says why metrics are not served and points at a message only when one
 * was printed; the zero-downtime deploy script says it signalled the supervisor only when the process
 * it signalled is the supervisor.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { start } from './child.ts';

const root = resolve(import.meta.dirname, '../..');
const configService = join(root, 'examples/config-service');
const zeroDowntime = join(root, 'examples/zero-downtime');
const run = promisify(execFile);

/** config-service as `npm start` runs it, with these variables; its lines up to the metrics line. */
async function serviceLines(t: TestContext, env: Record<string, string>): Promise<string[]> {
  const service = start(t, process.execPath, ['--import', '@reloadscope/register', 'src/server.ts'], {
    cwd: configService,
    env: { PORT: '0', OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_PROMETHEUS_PORT: '0', ...env },
  });
  await service.waitFor(/^ {2}metrics: /);
  return [...service.lines];
}

test('config-service: the metrics line says why nothing is served, and points at a message only when there is one', { timeout: 60_000 }, async (t) => {
  const none = await serviceLines(t, { OTEL_METRICS_EXPORTER: 'none' });
  assert.ok(none.includes('  metrics: not served: OTEL_METRICS_EXPORTER does not include prometheus'), none.join('\n'));

  const disabled = await serviceLines(t, { OTEL_SDK_DISABLED: 'true' });
  assert.ok(disabled.includes('  metrics: not served: OTEL_SDK_DISABLED=true'), disabled.join('\n'));

  const holder = createServer();
  await new Promise<void>((ok) => holder.listen(0, '127.0.0.1', ok));
  t.after(() => holder.close());
  const taken = await serviceLines(t, {
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    OTEL_EXPORTER_PROMETHEUS_PORT: String((holder.address() as { port: number }).port),
  });
  const line = taken.indexOf('  metrics: not served (see the [reloadscope] message above)');
  assert.ok(line >= 0, taken.join('\n'));
  assert.ok(taken.slice(0, line).some((l) => l.startsWith('[reloadscope] Prometheus metrics endpoint not started')), taken.join('\n'));
});

test('config-service: the URL it says it listens on answers, on the HOST it was given', { timeout: 60_000 }, async (t) => {
  // 127.0.0.2 is loopback on Linux, but not what `localhost` resolves to.
  const service = start(t, process.execPath, ['--import', '@reloadscope/register', 'src/server.ts'], {
    cwd: configService,
    env: { HOST: '127.0.0.2', PORT: '0', OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' },
  });
  const url = (await service.waitFor(/config-service listening on (http:\S+)/))[1]!;
  assert.match(url, /^http:\/\/127\.0\.0\.2:\d+\/$/);
  assert.equal((await fetch(new URL('/healthz', url))).status, 200);
});

test('zero-downtime deploy --upgrade signals only a running supervisor, and says so only then', { timeout: 60_000 }, async (t) => {
  const bundle = await mkdtemp(join(tmpdir(), 'reloadscope-deploy-'));
  t.after(() => rm(bundle, { recursive: true, force: true }));
  // Default action of SIGUSR2 is to terminate: a process that receives it by mistake dies.
  const victim: ChildProcess = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  t.after(() => victim.kill('SIGKILL'));
  const deploy = (args: string[]) =>
    run(process.execPath, ['src/deploy.ts', ...args], { cwd: zeroDowntime, env: { ...process.env, BUNDLE_DIR: bundle } }).then(
      ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );

  assert.equal((await deploy([])).code, 0);
  await writeFile(join(bundle, 'supervisor.pid'), String(victim.pid));
  const wrong = await deploy(['--upgrade']);
  assert.equal(wrong.code, 1, wrong.out);
  assert.match(wrong.out, new RegExp(`bundle/supervisor\\.pid names pid ${victim.pid}, which is not a running reloadscope-cluster`));
  assert.doesNotMatch(wrong.out, /SIGUSR2 sent/);
  assert.equal(victim.exitCode ?? victim.signalCode, null, 'the unrelated process got no signal');

  const gone = spawn(process.execPath, ['-e', '0']);
  await new Promise((ok) => gone.once('exit', ok));
  await writeFile(join(bundle, 'supervisor.pid'), String(gone.pid));
  const stale = await deploy(['--upgrade']);
  assert.equal(stale.code, 1, stale.out);
  assert.match(stale.out, /which is not a running reloadscope-cluster/);
  assert.doesNotMatch(stale.out, /SIGUSR2 sent|ESRCH|at /);
});
