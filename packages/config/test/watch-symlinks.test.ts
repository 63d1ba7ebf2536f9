/**
 * Edits that reach the file through symlinks. A file watch on the link's own directory hears
 * nothing when the target is written in place: every link of the chain and the directory the
 * path finally resolves to must be watched, and the watches must follow when a link moves.
 */
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { readdir, readFile, readlink, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { watchTls } from '../src/index.ts';
import { type Issued, TestCA } from '../../../test/support/tls-certs.ts';
import { diagnostics, eventually, sleep, start, tempDir } from './harness.ts';

/** Replace `link` by a symlink to `target` in one rename(2), as `ln -sfn` through a temp name does. */
async function repoint(link: string, target: string): Promise<void> {
  await symlink(target, `${link}.tmp`);
  await rename(`${link}.tmp`, link);
}

const value = (config: { current: unknown }) => (config.current as { v: number }).v;

async function watched(t: TestContext, path: string) {
  const seen = diagnostics();
  const { tel, config } = await start(t, path, { watch: { debounceMs: 50 }, onDiagnostic: seen.sink });
  return { tel, config, seen, v: () => value(config) };
}

/** Write `v` and wait until it is the active value: "not after 20 s" is the failure. */
async function edit(file: string, v: number, active: () => number, how = 'an in-place edit'): Promise<void> {
  await writeFile(file, JSON.stringify({ v }));
  await eventually(() => active() === v, `${how} of ${file} (v=${v}) to be active`);
}

/** Nothing may load `v`: give the watcher the time a real change takes, and more. */
async function ignored(file: string, v: number, active: () => number): Promise<void> {
  const before = active();
  await writeFile(file, JSON.stringify({ v }));
  await sleep(800);
  assert.equal(active(), before, `an edit of ${file}, which the path no longer resolves through, changed the config`);
}

test('a config file that is a symlink to another directory (/etc/app/config.json -> /opt/configs/prod.json): in-place edits are seen', async (t) => {
  const base = await tempDir(t);
  await mkdir(join(base, 'etc-app'));
  await mkdir(join(base, 'opt-configs'));
  const target = join(base, 'opt-configs', 'prod.json');
  await writeFile(target, JSON.stringify({ v: 1 }));
  // Absolute, as an operator's `ln -s /opt/configs/prod.json /etc/app/config.json` makes it.
  await symlink(target, join(base, 'etc-app', 'config.json'));
  const { v, seen } = await watched(t, join(base, 'etc-app', 'config.json'));
  for (let n = 2; n <= 4; n++) await edit(target, n, v);
  assert.deepEqual(seen.seen, []);
});

test('a Kubernetes volume written in place through its ..data link: the edit is seen, and so is the next ..data swap', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, '..2026_12_01_a'));
  await writeFile(join(dir, '..2026_12_01_a', 'config.json'), JSON.stringify({ v: 1 }));
  await symlink('..2026_12_01_a', join(dir, '..data'));
  await symlink('..data/config.json', join(dir, 'config.json'));
  const { v, seen } = await watched(t, dir);
  await edit(join(dir, '..data', 'config.json'), 2, v, 'a write through ..data');
  // The kubelet's swap: a new timestamped directory, ..data renamed over, the old one removed.
  await mkdir(join(dir, '..2026_12_01_b'));
  await writeFile(join(dir, '..2026_12_01_b', 'config.json'), JSON.stringify({ v: 3 }));
  await repoint(join(dir, '..data'), '..2026_12_01_b');
  await rm(join(dir, '..2026_12_01_a'), { recursive: true });
  await eventually(() => v() === 3, 'the swapped-in version');
  await edit(join(dir, '..data', 'config.json'), 4, v, 'a write through the new ..data');
  assert.deepEqual(seen.seen, [], 'the old timestamped directory going away is not a lost watch');
});

test('a file link re-pointed, then its new target edited in place; the old target no longer counts', async (t) => {
  const base = await tempDir(t);
  for (const d of ['a', 'b', 'links']) await mkdir(join(base, d));
  await writeFile(join(base, 'a', 'prod.json'), JSON.stringify({ v: 1 }));
  await writeFile(join(base, 'b', 'staging.json'), JSON.stringify({ v: 2 }));
  const link = join(base, 'links', 'config.json');
  await symlink('../a/prod.json', link);
  const { v } = await watched(t, link);
  await repoint(link, '../b/staging.json');
  await eventually(() => v() === 2, 'the re-pointed link to be loaded');
  await edit(join(base, 'b', 'staging.json'), 3, v);
  await ignored(join(base, 'a', 'prod.json'), 99, v);
  await edit(join(base, 'b', 'staging.json'), 4, v);
});

test('a link target replaced atomically (written aside, renamed over), then edited in place', async (t) => {
  const base = await tempDir(t);
  for (const d of ['app', 'store']) await mkdir(join(base, d));
  const target = join(base, 'store', 'config.json');
  await writeFile(target, JSON.stringify({ v: 1 }));
  await symlink(target, join(base, 'app', 'config.json'));
  const { v } = await watched(t, join(base, 'app', 'config.json'));
  await writeFile(join(base, 'store', '.config.json.new'), JSON.stringify({ v: 2 }));
  await rename(join(base, 'store', '.config.json.new'), target);
  await eventually(() => v() === 2, 'the target renamed over to be loaded');
  await edit(target, 3, v);
});

test('a chain of two links: the real file edited in place, then the middle link re-pointed', async (t) => {
  const base = await tempDir(t);
  for (const d of ['app', 'current', 'v1', 'v2']) await mkdir(join(base, d));
  await writeFile(join(base, 'v1', 'config.json'), JSON.stringify({ v: 1 }));
  await writeFile(join(base, 'v2', 'config.json'), JSON.stringify({ v: 10 }));
  // app/config.json -> current/config.json -> v1/config.json
  await symlink('../v1/config.json', join(base, 'current', 'config.json'));
  await symlink('../current/config.json', join(base, 'app', 'config.json'));
  const { v } = await watched(t, join(base, 'app', 'config.json'));
  await edit(join(base, 'v1', 'config.json'), 2, v);
  await repoint(join(base, 'current', 'config.json'), '../v2/config.json');
  await eventually(() => v() === 10, 'the middle link re-pointed to be loaded');
  await edit(join(base, 'v2', 'config.json'), 11, v);
  await ignored(join(base, 'v1', 'config.json'), 99, v);
});

test('a directory symlink on the way to a file that is itself a link elsewhere', async (t) => {
  const base = await tempDir(t);
  for (const d of ['releases/r1', 'releases/r2', 'shared']) await mkdir(join(base, d), { recursive: true });
  await writeFile(join(base, 'shared', 'one.json'), JSON.stringify({ v: 1 }));
  await writeFile(join(base, 'shared', 'two.json'), JSON.stringify({ v: 20 }));
  await symlink('../../shared/one.json', join(base, 'releases/r1/config.json'));
  await symlink('../../shared/two.json', join(base, 'releases/r2/config.json'));
  await symlink('releases/r1', join(base, 'current'));
  const { v } = await watched(t, join(base, 'current', 'config.json'));
  await edit(join(base, 'shared', 'one.json'), 2, v);
  await repoint(join(base, 'current'), 'releases/r2');
  await eventually(() => v() === 20, 'the directory link re-pointed to be loaded');
  await edit(join(base, 'shared', 'two.json'), 21, v);
  await ignored(join(base, 'shared', 'one.json'), 99, v);
});

test('a link into a directory that is deleted and re-created: not_found meanwhile, then the new file and its edits are seen', async (t) => {
  const base = await tempDir(t);
  await mkdir(join(base, 'app'));
  await mkdir(join(base, 'configs'));
  const target = join(base, 'configs', 'prod.json');
  await writeFile(target, JSON.stringify({ v: 1 }));
  await symlink(target, join(base, 'app', 'config.json'));
  const { v, tel, seen } = await watched(t, join(base, 'app', 'config.json'));
  await rm(join(base, 'configs'), { recursive: true });
  await eventually(
    async () => (await tel.spans()).some((s) => s.name === 'hotreload' && s.attributes['error.type'] === 'not_found'),
    'a not_found failure while the target directory is gone',
  );
  assert.equal(v(), 1, 'the active version keeps serving');
  await mkdir(join(base, 'configs'));
  await edit(target, 2, v, 'the file in the re-created directory');
  await edit(target, 3, v);
  const lost = seen.seen.filter((d) => d.code === 'watch_error');
  assert.equal(lost.length, 1, `one report for one disappearance: ${JSON.stringify(lost)}`);
  assert.match(lost[0]!.message, /configs was removed; polling every 1000 ms until it is back/);
});

test('a directory higher up on the resolved path swapped by rename: the new tree is loaded and its edits seen', async (t) => {
  const base = await tempDir(t);
  for (const tree of ['srv', 'srv.next']) await mkdir(join(base, tree, 'conf'), { recursive: true });
  await writeFile(join(base, 'srv', 'conf', 'prod.json'), JSON.stringify({ v: 1 }));
  await writeFile(join(base, 'srv.next', 'conf', 'prod.json'), JSON.stringify({ v: 2 }));
  await mkdir(join(base, 'app'));
  await symlink(join(base, 'srv', 'conf', 'prod.json'), join(base, 'app', 'config.json'));
  const { v, seen } = await watched(t, join(base, 'app', 'config.json'));
  // No watched directory hears this rename: the periodic identity check (5 s) finds it.
  await rename(join(base, 'srv'), join(base, 'srv.old'));
  await rename(join(base, 'srv.next'), join(base, 'srv'));
  await eventually(() => v() === 2, 'the swapped-in tree to be loaded');
  await edit(join(base, 'srv', 'conf', 'prod.json'), 3, v);
  await ignored(join(base, 'srv.old', 'conf', 'prod.json'), 99, v);
  assert.deepEqual(seen.seen, []);
});

test('a link re-pointed into a loop: the reload fails, the active version keeps serving, and a repaired link is loaded', async (t) => {
  const base = await tempDir(t);
  await mkdir(join(base, 'store'));
  await writeFile(join(base, 'store', 'a.json'), JSON.stringify({ v: 1 }));
  await writeFile(join(base, 'store', 'b.json'), JSON.stringify({ v: 2 }));
  const link = join(base, 'config.json');
  await symlink('store/a.json', link);
  const { v, tel } = await watched(t, link);
  // config.json -> loop1 -> loop2 -> loop1: ELOOP for the kernel, and for the watcher's resolution.
  await symlink('loop2', join(base, 'loop1'));
  await symlink('loop1', join(base, 'loop2'));
  await repoint(link, 'loop1');
  await eventually(
    async () => (await tel.spans()).some((s) => s.name === 'hotreload' && s.attributes['error.type'] === 'read_error'),
    'the reload of a looping link to fail with read_error',
  );
  assert.equal(v(), 1, 'the active version keeps serving');
  await repoint(link, 'store/b.json');
  await eventually(() => v() === 2, 'the repaired link to be loaded');
  await edit(join(base, 'store', 'b.json'), 3, v);
});

/** Watches this process holds in the kernel: the `inotify wd:` lines of its inotify descriptors. */
async function inotifyWatches(): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target !== 'anon_inode:inotify') continue;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
    n += info.match(/^inotify wd:/gm)?.length ?? 0;
  }
  return n;
}

test('a link moved 150 times among 30 directories: every new target is watched, and the watch handles stay bounded', async (t) => {
  const base = await tempDir(t);
  const dirs = Array.from({ length: 30 }, (_, i) => join(base, `d${i}`));
  for (const [i, d] of dirs.entries()) {
    await mkdir(d);
    await writeFile(join(d, 'config.json'), JSON.stringify({ v: i * 1000 }));
  }
  await mkdir(join(base, 'app'));
  const link = join(base, 'app', 'config.json');
  await symlink(join(dirs[0]!, 'config.json'), link);
  // fs.watch handles opened from watch.ts that are still open (unref'd ones included).
  const open = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type === 'FSEVENTWRAP' && new Error().stack?.includes('/src/watch.ts')) open.add(id);
    },
    destroy(id) {
      open.delete(id);
    },
  }).enable();
  t.after(() => hook.disable());
  const kernelBefore = await inotifyWatches();
  const { v } = await watched(t, link);
  const handlesAtStart = open.size;
  const kernelAtStart = await inotifyWatches();
  assert.ok(handlesAtStart >= 2, `the link's directory and its target's are watched (${handlesAtStart})`);
  for (let move = 1; move <= 150; move++) {
    const i = move % dirs.length;
    const version = i * 1000 + move;
    await writeFile(join(dirs[i]!, 'config.json'), JSON.stringify({ v: version }));
    await repoint(link, join(dirs[i]!, 'config.json'));
    await eventually(() => v() === version, `move ${move} to be loaded`);
    // Only an edit in place proves the new target is watched (the move itself is an event in app/).
    if (move % 15 === 0) await edit(join(dirs[i]!, 'config.json'), version + 1, v);
  }
  await eventually(() => open.size <= handlesAtStart || undefined, `fs.watch handles back to ${handlesAtStart} (now ${open.size})`, 5_000);
  const kernelAfter = await inotifyWatches();
  assert.ok(kernelAfter <= kernelAtStart, `kernel watches: ${kernelBefore} before, ${kernelAtStart} at start, ${kernelAfter} after 150 moves`);
});

/** Kubernetes' layout for a Secret: stable names are links through `..data` to a timestamped directory. */
async function secretVolume(dir: string, pair: Issued): Promise<void> {
  await mkdir(join(dir, '..2026_12_01_a'), { recursive: true });
  await writeFile(join(dir, '..2026_12_01_a', 'tls.crt'), pair.cert);
  await writeFile(join(dir, '..2026_12_01_a', 'tls.key'), pair.key);
  await symlink('..2026_12_01_a', join(dir, '..data'));
  await symlink('..data/tls.crt', join(dir, 'tls.crt'));
  await symlink('..data/tls.key', join(dir, 'tls.key'));
}

test('watchTls: a Secret volume written in place through ..data rotates the certificate', async (t) => {
  const base = await tempDir(t, 'rs-tls-');
  const ca = await TestCA.create(join(base, 'ca'));
  const first = await ca.issue();
  const mount = join(base, 'secret');
  await secretVolume(mount, first);
  const { createServer } = await import('node:tls');
  const server = createServer({ cert: first.cert, key: first.key });
  const tls = await watchTls({ server, cert: join(mount, 'tls.crt'), key: join(mount, 'tls.key'), signal: false, watch: { debounceMs: 50 } });
  t.after(() => tls.close());
  for (let i = 0; i < 2; i++) {
    const next = await ca.issue();
    await writeFile(join(mount, '..data', 'tls.crt'), next.cert);
    await writeFile(join(mount, '..data', 'tls.key'), next.key);
    await eventually(() => tls.current.serialNumber === next.serial, `in-place rotation ${i + 1} to serial ${next.serial}`);
  }
});
