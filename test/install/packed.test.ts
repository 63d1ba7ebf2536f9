/**
 * The packages as a stranger installs them: `npm pack` every published workspace, install the
 * tarballs together into a fresh project outside the monorepo (so nothing resolves through the
 * workspace links; the third-party dependencies come from the npm registry), and run an app there
 * under `node --import @reloadscope/register` with `watchConfig`. An edit of its config must be a
 * counted success on its own Prometheus endpoint. Also: CommonJS code can `require()` every package.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { packAll, published, ROOT } from '../../scripts/packages.ts';
import { sample, scrape, start } from '../quickstart/child.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/http-load.ts';

const run = promisify(execFile);
// The published packages claim a lower Node floor than the repository: point this at such a Node
// (e.g. a 22.15.0 binary) to run the installed app and the require() check on it.
const node = process.env.RELOADSCOPE_PACKED_NODE || process.execPath;

/** The environment without what an enclosing `npm test` exports (npm_config_*, npm_package_*). */
function strangerEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

const APP = `import { watchConfig } from '@reloadscope/config';
import { getReloadInstrumentation, getReloadscope } from '@reloadscope/register';

const config = await watchConfig({
  path: new URL('./config.json', import.meta.url).pathname,
  format: 'json',
  instrumentation: getReloadInstrumentation(),
  target: 'stranger-config',
  signal: false,
});
config.onChange((next) => console.log('greeting is now', next.greeting));
console.log('greeting is', config.current.greeting);
console.log('metrics', await getReloadscope()?.metricsUrl());
// Stands in for the app's own server: reloadscope keeps no process alive by itself.
setInterval(() => {}, 60_000);
`;

const REQUIRE = `const names = ${JSON.stringify(published().map((w) => w.manifest.name))};
for (const name of names) console.log(name, Object.keys(require(name)).length > 0 ? 'ok' : 'empty');
`;

test('packed tarballs install into a fresh project and run an app under --import @reloadscope/register', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'reloadscope-stranger-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.ok(relative(ROOT, dir).startsWith('..'), 'the project lives outside the monorepo');

  const packed = await packAll(dir);
  assert.deepEqual(packed.map((p) => p.name).sort(), published().map((w) => w.manifest.name).sort());
  for (const p of packed) {
    assert.ok(p.files.includes('LICENSE') && p.files.includes('README.md') && p.files.includes('dist/index.js'), `${p.name}: ${p.files.join(', ')}`);
    assert.ok(!p.files.some((f) => f.startsWith('test/') || f.endsWith('.tsbuildinfo')), `${p.name} ships test or build files`);
  }

  const project = join(dir, 'app');
  await run('mkdir', [project]);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'stranger-app', private: true, type: 'module' }, null, 2));
  // The README's install line, with the tarballs standing in for the registry's copies of our packages.
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...packed.map((p) => p.tarball)], {
    cwd: project,
    env: strangerEnv(),
    timeout: 90_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const lock = await readFile(join(project, 'package-lock.json'), 'utf8');
  assert.doesNotMatch(lock, /"link": true/, 'a package resolved through a link, not from its tarball');

  await writeFile(join(project, 'config.json'), JSON.stringify({ greeting: 'hello' }));
  await writeFile(join(project, 'app.mjs'), APP);
  await writeFile(join(project, 'require.cjs'), REQUIRE);

  const { stdout } = await run(node, ['require.cjs'], { cwd: project, env: strangerEnv() });
  assert.deepEqual(stdout.trim().split('\n').sort(), published().map((w) => `${w.manifest.name} ok`).sort());

  const app = start(t, node, ['--import', '@reloadscope/register', 'app.mjs'], {
    cwd: project,
    env: { ...strangerEnv(), OTEL_EXPORTER_PROMETHEUS_PORT: '0', OTEL_TRACES_EXPORTER: 'none', OTEL_SERVICE_NAME: 'stranger-app' },
  });
  await app.waitFor(/^greeting is hello$/);
  const metrics = (await app.waitFor(/^metrics (http:\S+)$/))[1]!;
  const successes = async () =>
    sample(await scrape(metrics), 'hotreload_reloads_total', { hotreload_target: 'stranger-config', hotreload_trigger: 'file', hotreload_outcome: 'success' }) ?? 0;
  assert.equal(await successes(), 0);

  await writeFile(join(project, 'config.json'), JSON.stringify({ greeting: 'bonjour' }));
  await app.waitFor(/^greeting is now bonjour$/);
  await eventually(async () => (await successes()) === 1, 'hotreload_reloads_total{trigger="file",outcome="success"} to count the edit');
  const text = await scrape(metrics);
  assert.match(text, /^hotreload_duration_seconds_bucket\{/m, 'the register Views give the documented names');
  assert.ok(!text.includes('bonjour'), 'no config value on the endpoint');

  // reloadscope-cluster as installed: the bin npm linked, worker telemetry on (its default), a
  // release that never listens (each worker's own telemetry endpoint does) is refused and said so.
  for (const [name, source] of [
    ['good', "import http from 'node:http';\nhttp.createServer((req, res) => res.end('good')).listen(Number(process.env.PORT), '127.0.0.1');\n"],
    ['silent', 'setInterval(() => {}, 1000);\n'],
  ] as const) {
    await mkdir(join(project, 'releases', name), { recursive: true });
    await writeFile(join(project, 'releases', name, 'server.mjs'), source);
  }
  await symlink('releases/good', join(project, 'current'));
  const [port, metricsPort] = [await freePort(), await freePort()];
  const cluster = start(t, join(project, 'node_modules/.bin/reloadscope-cluster'), ['--release', 'current', '--entry', 'server.mjs', '--workers', '2', '--ready-timeout', '3000'], {
    cwd: project,
    env: { ...strangerEnv(), PORT: String(port), OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), OTEL_TRACES_EXPORTER: 'none' },
  });
  const pid = Number((await cluster.waitFor(new RegExp(`^reloadscope-cluster: 2 workers running good on 127\\.0\\.0\\.1:${port} \\(pid (\\d+)\\)`), { timeoutMs: 60_000 }))[1]);
  await symlink('releases/silent', join(project, 'next'));
  await rename(join(project, 'next'), join(project, 'current'));
  process.kill(pid, 'SIGUSR2');
  await cluster.waitFor(/^reload app-code: failure \(signal\) .*ready_timeout: .* · candidate silent · version good · /, { timeoutMs: 60_000 });
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'good');
});
