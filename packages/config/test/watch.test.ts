import assert from 'node:assert/strict';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHook } from 'node:async_hooks';
import { execFile } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { debounce, isFileMountPoint, watchConfig, watchFiles } from '../src/index.ts';
import { diagnostics, eventually, fileRuns, sleep, start, type telemetry, tempDir, total } from './harness.ts';


let stamp = 0;
/** Exactly what the kubelet's AtomicWriter does: new timestamped dir, `..data` swapped by rename(2). */
async function configMapPublish(dir: string, content: string, old?: string): Promise<string> {
  const ts = `..2026_11_26_05_00_00.${String(++stamp).padStart(9, '0')}`;
  await mkdir(join(dir, ts));
  await writeFile(join(dir, ts, 'config.yaml'), content);
  await symlink(ts, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  if (old) await rm(join(dir, old), { recursive: true, force: true });
  return ts;
}

test('Kubernetes ConfigMap volume update (..data symlink swap) gives exactly one success', async (t) => {
  const dir = await tempDir(t);
  const first = await configMapPublish(dir, 'level: info\nworkers: 2\n');
  await symlink('..data/config.yaml', join(dir, 'config.yaml'));
  const { tel, config } = await start(t, dir, { watch: { debounceMs: 100 } });
  assert.deepEqual(config.current, { level: 'info', workers: 2 });
  assert.equal(config.file, join(dir, 'config.yaml'));

  await configMapPublish(dir, 'level: debug\nworkers: 4\n', first);
  await eventually(async () => (await fileRuns(tel, config.target)).success === 1, 'one successful file reload');
  assert.deepEqual(config.current, { level: 'debug', workers: 4 });
  await sleep(500); // stragglers of the swap would show up as more runs by now
  const runs = await fileRuns(tel, config.target);
  assert.equal(runs.success, 1);
  assert.equal(runs.failure, 0);
});

test('an editor-style atomic save (write temp, rename over) gives one success', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'app.json');
  await writeFile(file, '{"a":1}');
  const { tel, config } = await start(t, file, { watch: { debounceMs: 100 } });
  await writeFile(join(dir, '.app.json.swp'), '{"a":2}');
  await rename(join(dir, '.app.json.swp'), file);
  await eventually(() => (config.current as { a: number }).a === 2, 'the renamed file to be active');
  await sleep(500);
  const runs = await fileRuns(tel, config.target);
  assert.equal(runs.success, 1);
  assert.equal(runs.failure, 0);
});

test('50 rapid writes coalesce into far fewer runs and end on the last write', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'rapid.json');
  await writeFile(file, '{"n":0}');
  const { tel, config } = await start(t, file, { watch: { debounceMs: 150 } });
  for (let n = 1; n <= 50; n++) {
    await writeFile(file, JSON.stringify({ n }));
    await sleep(2);
  }
  await eventually(() => (config.current as { n: number }).n === 50, 'the last write to be active');
  await sleep(500);
  const runs = await fileRuns(tel, config.target);
  assert.ok(total(runs) <= 10, `expected far fewer than 50 runs, got ${JSON.stringify(runs)}`);
  assert.ok((runs.success ?? 0) >= 1);
  assert.deepEqual(config.current, { n: 50 });
});

test('polling fallback notices a change without filesystem events', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'polled.yaml');
  await writeFile(file, 'x: 1\n');
  const { tel, config } = await start(t, file, { watch: { pollMs: 100, debounceMs: 20 } });
  await sleep(150); // let the poller take its first fingerprint
  await writeFile(file, 'x: 2\n');
  await eventually(() => (config.current as { x: number }).x === 2, 'the polled change to be active');
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': config.target, 'hotreload.trigger': 'poll', 'hotreload.outcome': 'success' }), 1);
  assert.equal(total(await fileRuns(tel, config.target)), 0);
});

test('close() stops the watcher: later edits change nothing', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'closed.json');
  await writeFile(file, '{"v":1}');
  const { tel, config } = await start(t, file, { watch: { debounceMs: 20 } });
  await config.close();
  await writeFile(file, '{"v":2}');
  await sleep(300);
  assert.deepEqual(config.current, { v: 1 });
  assert.equal(total(await fileRuns(tel, config.target)), 0);
  await assert.rejects(config.reload(), /after close/);
});

test('a directory path picks its only config file; several need options.file', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'only.yaml'), 'k: v\n');
  const { config } = await start(t, dir, { watch: false });
  assert.equal(config.target, 'only.yaml');
  await writeFile(join(dir, 'second.json'), '{}');
  await assert.rejects(watchConfig({ path: dir, watch: false, signal: false }), { code: 'not_found' });
  const named = await watchConfig({ path: dir, file: 'second.json', watch: false, signal: false });
  t.after(() => named.close());
  assert.deepEqual(named.current, {});
});

test('subPath detection: a file that is itself a mount point', () => {
  // Real /proc/self/mountinfo lines (a kubelet subPath bind mount, then an ordinary volume).
  const mountinfo = [
    '1270 1251 259:1 /var/lib/kubelet/pods/x/volume-subpaths/cfg/app/0 /etc/app/config.yaml rw,relatime - ext4 /dev/nvme0n1p1 rw',
    '1271 1251 0:112 / /etc/other rw,relatime - tmpfs tmpfs rw',
    '1272 1251 0:113 / /etc/with\\040space/c.yaml rw - tmpfs tmpfs rw',
  ].join('\n');
  assert.equal(isFileMountPoint('/etc/app/config.yaml', mountinfo), true);
  assert.equal(isFileMountPoint('/etc/with space/c.yaml', mountinfo), true);
  assert.equal(isFileMountPoint('/etc/other/config.yaml', mountinfo), false);
  assert.equal(isFileMountPoint('/etc/app', mountinfo), false);
});

test('a config file that is a bind mount of its own (what subPath does) is reported once', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source.yaml');
  const mounted = join(dir, 'config.yaml');
  await writeFile(source, 'a: 1\n');
  await writeFile(mounted, 'placeholder: true\n');
  const child = fileURLToPath(new URL('./fixtures/subpath-child.ts', import.meta.url));
  const run = promisify(execFile);
  // A private mount namespace (unprivileged user namespace): the bind mount is visible only there.
  const script = 'mount --bind "$1" "$2" && exec "$3" "$4" "$2"';
  const { stdout } = await run('unshare', ['-rm', 'sh', '-c', script, 'sh', source, mounted, process.execPath, child], { timeout: 30_000 });
  assert.deepEqual(JSON.parse(stdout), ['subpath_mount']);
  // The same file without the mount: nothing to report.
  const plain = await run(process.execPath, [child, mounted], { timeout: 30_000 });
  assert.deepEqual(JSON.parse(plain.stdout), []);
});

test('debounce with leading: a lone trigger calls at once, a burst is the leading call plus one trailing call', async (t) => {
  let calls = 0;
  const d = debounce(() => calls++, 50, 10_000, { leading: true });
  t.after(() => d.cancel());
  d.trigger();
  assert.equal(calls, 1, 'the leading call is synchronous');
  for (let i = 0; i < 500; i++) d.trigger();
  assert.equal(calls, 1, 'the rest of the burst waits for the trailing call');
  await eventually(() => calls === 2 || undefined, 'the trailing call');
  await sleep(300);
  assert.equal(calls, 2, 'one trailing call for the whole burst');
  // After the quiet window, a new trigger is a leading call again.
  d.trigger();
  assert.equal(calls, 3);

  // Trailing-only (the file-watch mode) never calls synchronously.
  let trailingCalls = 0;
  const trailing = debounce(() => trailingCalls++, 20, 10_000);
  t.after(() => trailing.cancel());
  for (let i = 0; i < 100; i++) trailing.trigger();
  assert.equal(trailingCalls, 0);
  await eventually(() => trailingCalls === 1 || undefined, 'the trailing-only call');
});

/** A config in its own directory (`<tmp>/conf/app.yaml`), watched, with every diagnostic kept. */
async function watchedDirectory(t: TestContext) {
  const base = await tempDir(t);
  const dir = join(base, 'conf');
  const file = join(dir, 'app.yaml');
  await mkdir(dir);
  await writeFile(file, 'v: 1\n');
  const seen = diagnostics();
  const { tel, config } = await start(t, file, { watch: { debounceMs: 50 }, onDiagnostic: seen.sink });
  const lost = () => seen.seen.filter((d) => d.code === 'watch_error');
  const value = () => (config.current as { v: number }).v;
  return { base, dir, file, tel, config, lost, value };
}

const failedWith = async (tel: ReturnType<typeof telemetry>, code: string) =>
  (await tel.spans()).some((s) => s.name === 'hotreload' && s.attributes['hotreload.outcome'] === 'failure' && s.attributes['error.type'] === code);

for (const [how, breakIt] of [
  ['removed', (dir: string) => rm(dir, { recursive: true })],
  ['replaced by a file', async (dir: string) => {
    await rm(dir, { recursive: true });
    await writeFile(dir, 'not a directory\n');
  }],
] as const) {
  test(`a watched directory ${how} and re-created: reported once, not_found meanwhile, the new config is loaded`, async (t) => {
    const { dir, file, tel, config, lost, value } = await watchedDirectory(t);
    await breakIt(dir);
    await eventually(() => lost().length === 1, 'the lost directory to be reported');
    assert.match(lost()[0]!.message, new RegExp(`${dir} (was removed|is no longer a directory); polling every 1000 ms`));
    // The reload it triggers fails (the old value keeps serving).
    await eventually(() => failedWith(tel, 'not_found'), 'a not_found failure while the directory is gone');
    assert.equal(value(), 1);
    await sleep(2_500); // more than two poll intervals: still one report
    assert.equal(lost().length, 1);

    await rm(dir, { force: true });
    await mkdir(dir);
    await writeFile(file, 'v: 2\n');
    await eventually(() => value() === 2, 'the config written into the re-created directory to be active');
    // The directory is watched again: an ordinary edit is a file event.
    await writeFile(file, 'v: 3\n');
    await eventually(() => value() === 3, 'an edit in the re-created directory to be active');
    assert.ok((await fileRuns(tel, config.target)).success! >= 1);
    assert.equal(lost().length, 1, 'one report per disappearance');

    // A second disappearance is a second report.
    await rm(dir, { recursive: true });
    await eventually(() => lost().length === 2, 'the second disappearance to be reported');
  });
}

test('a watched directory swapped for a new one (mv dir old; mv new dir, or rm -rf + mkdir) keeps being watched', async (t) => {
  const { base, dir, file, value } = await watchedDirectory(t);
  // The inotify watch follows the inode to its new name: the old directory must be let go.
  await mkdir(join(base, 'next'));
  await writeFile(join(base, 'next', 'app.yaml'), 'v: 2\n');
  await rename(dir, join(base, 'old'));
  await rename(join(base, 'next'), dir);
  await eventually(() => value() === 2, 'the swapped-in directory to be loaded');
  await writeFile(join(base, 'old', 'app.yaml'), 'v: 99\n');
  await writeFile(file, 'v: 3\n');
  await eventually(() => value() === 3, 'an edit in the new directory to be active');

  // Removed and re-created at once: no poll interval may pass in between.
  await rm(dir, { recursive: true });
  await mkdir(dir);
  await writeFile(file, 'v: 4\n');
  await eventually(() => value() === 4, 'the config in the instantly re-created directory to be active');
  await writeFile(file, 'v: 5\n');
  await eventually(() => value() === 5, 'an edit after the re-creation to be active');
});

test('closing a watcher while it polls for a missing directory leaves no timer behind', async (t) => {
  const base = await tempDir(t);
  const dir = join(base, 'gone');
  await mkdir(dir);
  // Timers created by the watcher, seen through async_hooks (unref'd timers are invisible to getActiveResourcesInfo).
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout' && new Error().stack?.includes('/src/watch.ts')) live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  t.after(() => hook.disable());
  const seen = diagnostics();
  const calls: string[] = [];
  const w = watchFiles([join(dir, 'a.json')], (trigger) => calls.push(trigger), { debounceMs: 10 }, seen.sink);
  await rm(dir, { recursive: true });
  await eventually(() => seen.seen.length === 1, 'the disappearance to be reported');
  await eventually(() => calls.length > 0, 'the reload the disappearance triggers');
  assert.deepEqual(calls, ['file']);
  await sleep(1_200); // at least one poll has run and re-armed
  assert.ok(live.size > 0, 'the poll timer is alive while the directory is missing');
  w.close();
  await eventually(() => live.size === 0 || undefined, 'every watcher timer to be gone after close()', 2_000);
  await mkdir(dir);
  await sleep(1_200);
  assert.deepEqual(calls, ['file'], 'nothing runs after close()');
  assert.equal(seen.seen.length, 1);
});

test('a config directory reached through a symlink that is re-pointed: edits in the new target are seen', async (t) => {
  const base = await tempDir(t);
  for (const [d, v] of [['d1', 1], ['d2', 2]] as const) {
    await mkdir(join(base, d));
    await writeFile(join(base, d, 'app.yaml'), `v: ${v}\n`);
  }
  await symlink('d1', join(base, 'link'));
  const seen = diagnostics();
  const { config } = await start(t, join(base, 'link', 'app.yaml'), { watch: { debounceMs: 50 }, onDiagnostic: seen.sink });
  const value = () => (config.current as { v: number }).v;
  await symlink('d2', join(base, 'link.tmp'));
  await rename(join(base, 'link.tmp'), join(base, 'link'));
  await eventually(() => value() === 2, 'the re-pointed symlink to be loaded');
  // Before, the watch stayed on d1: this edit went unnoticed.
  await writeFile(join(base, 'd2', 'app.yaml'), 'v: 3\n');
  await eventually(() => value() === 3, 'an edit in the new target to be active');
  assert.deepEqual(seen.seen, [], 'a swap is not a disappearance');
});

test('a directory mounted over (no event reaches the old one) is noticed by the periodic identity check', async (t) => {
  const base = await tempDir(t);
  for (const [d, v] of [['dir', 1], ['other', 2]] as const) {
    await mkdir(join(base, d));
    await writeFile(join(base, d, 'app.yaml'), `v: ${v}\n`);
  }
  const child = fileURLToPath(new URL('./fixtures/mount-over-child.ts', import.meta.url));
  const started = Date.now();
  const { stdout } = await promisify(execFile)('unshare', ['-rm', process.execPath, child, join(base, 'dir'), join(base, 'other')], { timeout: 30_000 });
  assert.deepEqual(JSON.parse(stdout), { values: [1, 2], seen: [] });
  assert.ok(Date.now() - started < 15_000, 'found within a check interval (5 s) and a debounce');
});
