/**
 * A Node.js older than the repository needs gets one line naming the version needed, at `npm ci`
 * (npm's engine-strict refusal, before anything is installed) and at every npm script of every
 * manifest of the repository (scripts/check-node.js runs first in each), instead of 130 EBADENGINE
 * warnings, ERR_UNKNOWN_FILE_EXTENSION or `sh: 1: tsc: not found` (there is no node_modules: npm ci
 * refused to install it).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const checkNode = join(root, 'scripts/check-node.js');
const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const minimum = /^>=(\d+\.\d+)$/.exec(manifest.engines.node)?.[1];

/** Runs scripts/check-node.js on this Node, made to report `version` as its own. */
async function checkAs(version: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const pretend = `data:text/javascript,Object.defineProperty(process.versions,"node",{value:${JSON.stringify(version)}})`;
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', pretend, checkNode]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('check-node refuses every version below engines.node with one line, and passes the rest silently', async () => {
  assert.ok(minimum, `root engines.node is ">=MAJOR.MINOR": ${manifest.engines.node}`);
  const [major, minor] = minimum.split('.').map(Number) as [number, number];
  for (const version of ['18.20.8', '20.20.2', `${major}.${minor - 1}.9`, `${major - 1}.99.0`, '22.15.0']) {
    const r = await checkAs(version);
    assert.equal(r.code, 1, version);
    assert.equal(r.stdout, '', version);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`needs Node\\.js >= ${minimum}\\.0 .*you have ${version.replaceAll('.', '\\.')}\\b.*node@24`));
  }
  for (const version of [`${minimum}.0`, `${major}.${minor}.1`, `${major}.${minor + 1}.0`, `${major + 2}.0.0`, process.versions.node]) {
    assert.deepEqual(await checkAs(version), { code: 0, stdout: '', stderr: '' }, version);
  }
  const quiet = await run(process.execPath, ['--import', 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.0.0"})', checkNode, '--quiet']).catch(
    (e: { code: number; stderr: string }) => e,
  );
  assert.deepEqual([(quiet as { code: number }).code, (quiet as { stderr: string }).stderr], [1, '']);
});

/** The machine's own node when it is older than the minimum (CI machines ship Node 20), else undefined. */
function oldNodeDir(): string | undefined {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/bin']) {
    try {
      const version = execFileSync(join(dir, 'node'), ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
      execFileSync(join(dir, 'npm'), ['--version'], { encoding: 'utf8' });
      const [a, b] = version.split('.').map(Number) as [number, number];
      const [x, y] = minimum!.split('.').map(Number) as [number, number];
      if (a < x || (a === x && b < y)) return dir;
    } catch {
      // No node (or npm) there.
    }
  }
  return undefined;
}

const oldDir = oldNodeDir();

test('on a real old Node, npm ci fails at once naming the version, and npm start prints the one line', { skip: oldDir ? false : 'no Node older than engines.node on this machine', timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'reloadscope-old-node-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // A copy of what npm reads: running `npm ci` in the checkout would wipe its node_modules if it got that far.
  await mkdir(join(dir, 'scripts'));
  for (const f of ['package.json', 'package-lock.json', '.npmrc', 'scripts/check-node.js']) await copyFile(join(root, f), join(dir, f));
  const env = { ...process.env, PATH: `${oldDir}:/usr/bin:/bin` };
  const fail = (cmd: string[]) =>
    run('npm', cmd, { cwd: dir, env, timeout: 30_000 }).then(
      () => assert.fail(`npm ${cmd.join(' ')} succeeded on an old Node`),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  const started = Date.now();
  const ci = await fail(['ci', '--no-audit', '--no-fund', '--offline']);
  assert.match(ci.stderr, new RegExp(`EBADENGINE[\\s\\S]*Required: \\{"node":">=${minimum!.replace('.', '\\.')}"\\}`));
  assert.ok(Date.now() - started < 20_000, 'refused before installing anything');
  assert.equal((await run('ls', ['-A', dir])).stdout.includes('node_modules'), false);

  const startRun = await fail(['start']);
  assert.match(startRun.stderr, new RegExp(`^reloadscope needs Node\\.js >= ${minimum!.replace('.', '\\.')}\\.0 `, 'm'));
  assert.doesNotMatch(startRun.stderr, /ERR_UNKNOWN_FILE_EXTENSION/);
});

/** Every manifest of the repository (root, workspaces) with its scripts. */
async function manifests(): Promise<Array<{ dir: string; scripts: string[] }>> {
  const dirs = ['.'];
  for (const parent of ['packages', 'examples']) {
    for (const entry of await readdir(join(root, parent), { withFileTypes: true })) {
      if (entry.isDirectory()) dirs.push(join(parent, entry.name));
    }
  }
  const out: Array<{ dir: string; scripts: string[] }> = [];
  for (const dir of dirs) {
    const json = await readFile(join(root, dir, 'package.json'), 'utf8').catch(() => undefined);
    if (json === undefined) continue;
    out.push({ dir, scripts: Object.keys((JSON.parse(json) as { scripts?: Record<string, string> }).scripts ?? {}) });
  }
  return out;
}

test('on a real old Node, every npm script of every manifest prints the one version line and runs nothing else', { skip: oldDir ? false : 'no Node older than engines.node on this machine', timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'reloadscope-old-node-scripts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // The manifests and the check, as a clone has them before `npm ci` (which an old Node cannot run).
  const all = await manifests();
  for (const f of ['.npmrc', 'scripts/check-node.js', ...all.map((m) => join(m.dir, 'package.json'))]) {
    await mkdir(dirname(join(dir, f)), { recursive: true });
    await copyFile(join(root, f), join(dir, f));
  }
  const env = { ...process.env, PATH: `${oldDir}:/usr/bin:/bin` };
  const line = new RegExp(`^reloadscope needs Node\\.js >= ${minimum!.replace('.', '\\.')}\\.0 \\(it runs \\.ts files natively\\); you have \\d+\\.`);
  let checked = 0;
  const wrong: string[] = [];
  for (const { dir: where, scripts } of all) {
    for (const script of scripts) {
      const r = await run('npm', ['run', script], { cwd: join(dir, where), env, timeout: 30_000 }).then(
        (ok) => ({ code: 0, stdout: ok.stdout, stderr: ok.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      const said = r.stderr.split('\n').filter((l) => line.test(l));
      const what = `${where} npm run ${script}`;
      if (r.code === 0) wrong.push(`${what}: succeeded on an old Node`);
      else if (said.length !== 1) wrong.push(`${what}: ${said.length} version lines; stderr:\n${r.stderr}`);
      else if (/not found|ERR_|SyntaxError|Cannot find/.test(r.stderr)) wrong.push(`${what}: ran something after the check; stderr:\n${r.stderr}`);
      checked += 1;
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(checked >= 20, `${checked} scripts checked`);
});
