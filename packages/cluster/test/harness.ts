import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type SuperviseOptions, superviseCluster } from '../src/index.ts';
import { telemetry, tempDir } from '../../config/test/harness.ts';
import { eventually } from '../../../test/support/eventually.ts';
import { freePort } from '../../../test/support/http-load.ts';

export { eventually } from '../../../test/support/eventually.ts';
export { sleep, telemetry, tempDir } from '../../config/test/harness.ts';
export { freePort, get, load, type Sample } from '../../../test/support/http-load.ts';

/** A plain Node HTTP server as a release: it answers with its release name and pid. */
export function appSource(name: string, extra = ''): string {
  return `import http from 'node:http';
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/slow') return void setTimeout(() => res.end('${name} slow'), Number(url.searchParams.get('ms')));
  if (url.pathname === '/healthz') return void res.end('ok');
  res.end('${name}');
});
${extra}
server.listen(Number(process.env.PORT), '127.0.0.1');
`;
}

export async function writeApp(root: string, name: string, source = appSource(name)): Promise<void> {
  const dir = join(root, 'releases', name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'server.mjs'), source);
}

/** Point `root/current` at a release, atomically (symlink + rename, as a deploy script does). */
export async function activate(root: string, name: string): Promise<void> {
  const tmp = join(root, `.current-${process.pid}-${Math.random().toString(16).slice(2)}`);
  await symlink(join('releases', name), tmp);
  await rename(tmp, join(root, 'current'));
}

/**
 * A releases root holding `releases` (name → source; default the plain app), `current` pointing at
 * the first, and a supervisor over it on a free port with test telemetry, closed after the test.
 */
export async function startCluster(t: TestContext, releases: Record<string, string>, options: Partial<SuperviseOptions> = {}) {
  const root = await tempDir(t, 'rs-cluster-');
  for (const [name, source] of Object.entries(releases)) await writeApp(root, name, source);
  await activate(root, Object.keys(releases)[0]!);
  const port = await freePort();
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const supervisor = await superviseCluster({
    release: join(root, 'current'),
    entry: 'server.mjs',
    workers: 2,
    env: { PORT: String(port) },
    instrumentation: tel.reloads,
    meterProvider: tel.meterProvider,
    signal: false,
    ...options,
  });
  t.after(() => supervisor.close());
  return { root, port, tel, supervisor };
}

/** The plain app under each name. */
export const plainApps = (...names: string[]): Record<string, string> => Object.fromEntries(names.map((n) => [n, appSource(n)]));

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

/**
 * `reloadscope-cluster --release root/current --entry server.mjs` as the README runs it, telemetry
 * on (the instance endpoint on a free port); `wait: false` returns at once, for a start that must
 * fail. The supervisor is SIGKILLed after the test (its workers exit when their IPC channel closes).
 */
export async function startCli(t: TestContext, root: string, options: { workers?: number; args?: string[]; env?: Record<string, string>; wait?: boolean } = {}) {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const args = [CLI, '--release', join(root, 'current'), '--entry', 'server.mjs', '--workers', String(options.workers ?? 2), ...(options.args ?? [])];
  const child: ChildProcess = spawn(process.execPath, args, {
    env: {
      ...process.env,
      PORT: String(port),
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      RELOADSCOPE_RUNTIME_METRICS: 'false',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  if (options.wait !== false) await eventually(() => out.includes('workers running'), 'the supervisor to start', 60_000);
  return { child, port, metricsPort, exited, output: () => out };
}
