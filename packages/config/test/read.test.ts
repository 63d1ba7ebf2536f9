import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sha256Hex } from '@reloadscope/core';
import { ConfigError } from '../src/errors.ts';
import { CONFIG_FILE, hashFile, readCapped, readRegular } from '../src/read.ts';
import { FOUND, makeSpecial, SPECIAL_KINDS } from './special-files.ts';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rs-read-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  return assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

// Sizes around the 1 MiB read chunk: empty, small, exactly one chunk, one byte over, several chunks.
const SIZES = [0, 14 * 1024, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 17];

test('readCapped and hashFile return the bytes / digest of files of every size around the chunk size', async (t) => {
  const dir = await tempDir(t);
  for (const size of SIZES) {
    const file = join(dir, `f${size}`);
    const content = randomBytes(size);
    await writeFile(file, content);
    const read = await readCapped(file, 10 * 1024 * 1024);
    assert.equal(read.size, size);
    assert.ok(read.bytes.equals(content), `readCapped bytes differ at size ${size}`);
    assert.equal(read.hash, sha256Hex(content));
    assert.deepEqual(await hashFile(file), { hash: sha256Hex(content), size });
  }
});

test('a file over maxBytes is refused with too_large, by both paths', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'big');
  await writeFile(file, randomBytes(2 * 1024 * 1024 + 5));
  await rejectsWithCode(readCapped(file, 2 * 1024 * 1024 + 4), 'too_large');
  await rejectsWithCode(hashFile(file, { maxBytes: 2 * 1024 * 1024 + 4 }), 'too_large');
  // Exactly at the limit is fine.
  assert.equal((await readCapped(file, 2 * 1024 * 1024 + 5)).size, 2 * 1024 * 1024 + 5);
  assert.equal((await hashFile(file, { maxBytes: 2 * 1024 * 1024 + 5 })).size, 2 * 1024 * 1024 + 5);
});

// procfs files report size 0 in fstat but have content: the same situation as a file that grew
// after fstat, reproducible without a race.
test('content beyond the fstat size is read in full, and still capped by maxBytes', async () => {
  const expected = await readFile('/proc/self/cmdline');
  assert.ok(expected.length > 8, 'the node command line is longer than 8 bytes');
  const read = await readCapped('/proc/self/cmdline', 1024 * 1024);
  assert.ok(read.bytes.equals(expected));
  assert.equal(read.hash, sha256Hex(expected));
  assert.deepEqual(await hashFile('/proc/self/cmdline'), { hash: sha256Hex(expected), size: expected.length });
  await rejectsWithCode(readCapped('/proc/self/cmdline', 8), 'too_large');
  await rejectsWithCode(hashFile('/proc/self/cmdline', { maxBytes: 8 }), 'too_large');
});

test('missing files, directories and aborted reads fail with stable codes', async (t) => {
  const dir = await tempDir(t);
  await rejectsWithCode(readCapped(join(dir, 'nope'), 1024), 'not_found');
  await rejectsWithCode(hashFile(join(dir, 'nope')), 'not_found');
  await rejectsWithCode(readCapped(dir, 1024), 'read_error');
  await rejectsWithCode(hashFile(dir), 'read_error');
  const file = join(dir, 'f');
  await writeFile(file, randomBytes(3 * 1024 * 1024));
  const aborted = AbortSignal.abort();
  await assert.rejects(readCapped(file, 10 * 1024 * 1024, aborted), { name: 'AbortError' });
  await assert.rejects(hashFile(file, { signal: aborted }), { name: 'AbortError' });
  await assert.rejects(hashFile(file, { maxBytes: -1 }), TypeError);
});

test('a read asks its signal source only between chunks, and stops there once it is aborted', async (t) => {
  const dir = await tempDir(t);
  const small = join(dir, 'small');
  await writeFile(small, randomBytes(64 * 1024));
  let asked = 0;
  // What a reload stage hands over: its AbortSignal is created only when first asked for.
  const source = {
    get signal() {
      asked++;
      return AbortSignal.abort();
    },
  };
  const read = await readRegular(small, 1024 * 1024, CONFIG_FILE, source);
  assert.equal(read.size, 64 * 1024);
  assert.equal(asked, 0, 'a one-chunk read never needs the signal');
  const large = join(dir, 'large');
  await writeFile(large, randomBytes(3 * 1024 * 1024));
  await assert.rejects(readRegular(large, 10 * 1024 * 1024, CONFIG_FILE, source), { name: 'AbortError' });
  assert.equal(asked, 1, 'asked after the first 1 MiB chunk, and stopped');
});

// The reads use plain fds (no FileHandle to close them on GC): every path must close its fd.
test('no file descriptor is left open, whether the read succeeds or fails', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'f');
  await writeFile(file, randomBytes(2 * 1024 * 1024 + 3));
  const openFds = async () => (await readdir('/proc/self/fd')).length;
  const before = await openFds();
  for (let i = 0; i < 20; i++) {
    await readCapped(file, 10 * 1024 * 1024);
    await hashFile(file);
    await rejectsWithCode(readCapped(file, 1024), 'too_large'); // refused after fstat
    await rejectsWithCode(hashFile(file, { maxBytes: 1024 }), 'too_large');
    await rejectsWithCode(readCapped('/proc/self/cmdline', 8), 'too_large'); // refused while reading
    await rejectsWithCode(hashFile('/proc/self/cmdline', { maxBytes: 8 }), 'too_large');
    await rejectsWithCode(readCapped(dir, 1024), 'read_error'); // not a regular file
  }
  assert.equal(await openFds(), before);
});

// Old code took a short read below the fstat size for the end: procfs hands out a page per read
// and reports size 0, so such a file was silently cut after its first page (~4 KiB).
test('a procfs file of many pages is read in full, and capped by maxBytes while reading', { skip: !existsSync('/proc/kallsyms') }, async () => {
  const expected = await readFile('/proc/kallsyms');
  assert.ok(expected.length > 64 * 1024, 'precondition: several pages');
  const read = await readCapped('/proc/kallsyms', 64 * 1024 * 1024);
  assert.equal(read.size, expected.length);
  assert.equal(read.hash, sha256Hex(expected));
  assert.deepEqual(await hashFile('/proc/kallsyms'), { hash: sha256Hex(expected), size: expected.length });
  await rejectsWithCode(readCapped('/proc/kallsyms', 64 * 1024), 'too_large');
  await rejectsWithCode(hashFile('/proc/kallsyms', { maxBytes: 64 * 1024 }), 'too_large');
});

// Old code opened without O_NONBLOCK: open(2) of a FIFO waited for a writer, parking a libuv
// thread (and this test) forever; the socket failed as an unexplained ENXIO.
test('a FIFO, a socket, /dev/zero and /dev/urandom symlinks and a directory are refused at once, without reading', { timeout: 20_000 }, async (t) => {
  const dir = await tempDir(t);
  for (const kind of SPECIAL_KINDS) {
    const path = join(dir, `special-${kind}`);
    const special = await makeSpecial(path, kind);
    t.after(() => special.remove());
    for (const [name, read] of [
      ['readCapped', () => readCapped(path, 1024 * 1024)],
      ['hashFile', () => hashFile(path)],
    ] as const) {
      const started = performance.now();
      await assert.rejects(read(), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `${name}(${kind}): expected a ConfigError, got ${String(err)}`);
        assert.equal(err.code, 'read_error', `${name}(${kind})`);
        assert.match(err.message, FOUND[kind], `${name}(${kind})`);
        return true;
      });
      assert.ok(performance.now() - started < 1000, `${name}(${kind}) answered at once`);
    }
    await special.remove();
  }
});

test('the thread pool is never parked: 8+ reloads against FIFOs at every read path, then fs and crypto still answer', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const child = fileURLToPath(new URL('./fixtures/fifo-pool-child.ts', import.meta.url));
  // A hard timeout: on a regression the child hangs (even its exit joins the parked threads).
  const { stdout } = await promisify(execFile)(process.execPath, [child, dir], { timeout: 40_000, env: { ...process.env, UV_THREADPOOL_SIZE: '4' } });
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    runs: Record<string, { outcomes: string[]; codes: string[] }>;
    readFileMs: number | null;
    pbkdf2Ms: number | null;
  };
  for (const [where, { outcomes, codes }] of Object.entries(out.runs)) {
    assert.ok(outcomes.length >= 8, `${where}: at least 8 runs`);
    assert.deepEqual(new Set(outcomes), new Set(['failure']), `${where}: every run is refused, none times out`);
    // A release is checked for special files before any is opened: that refusal is bundle_invalid.
    const code = where === 'bundle file' ? 'bundle_invalid' : 'read_error';
    assert.deepEqual(new Set(codes), new Set([code]), `${where}: ${code}`);
  }
  assert.ok(out.readFileMs !== null && out.readFileMs < 2000, `fs.promises.readFile still completes (${out.readFileMs} ms)`);
  assert.ok(out.pbkdf2Ms !== null && out.pbkdf2Ms < 2000, `crypto.pbkdf2 still completes (${out.pbkdf2Ms} ms)`);
});
