import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { type SuperviseOptions, superviseCluster } from '../src/index.ts';
import { telemetry, tempDir } from '../../config/test/harness.ts';
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
    instrumentation: tel.reloads,
    meterProvider: tel.meterProvider,
    signal: false,
    ...options,
    env: { PORT: String(port), ...options.env },
  });
  t.after(() => supervisor.close());
  return { root, port, tel, supervisor };
}

/** The plain app under each name. */
export const plainApps = (...names: string[]): Record<string, string> => Object.fromEntries(names.map((n) => [n, appSource(n)]));
