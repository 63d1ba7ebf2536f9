import { createHash } from 'node:crypto';
import { close, constants, fstat, open, read, type Stats } from 'node:fs';
import type { ReloadStage } from '@reloadscope/core';
import { ConfigError, fsError } from './errors.ts';

export interface ReadResult {
  bytes: Buffer;
  /** Lowercase hex sha256 of `bytes`, computed while reading. */
  hash: string;
  size: number;
}

export interface HashFileOptions {
  /** Refuse (`too_large`) a file larger than this. Default: no limit (memory stays bounded anyway). */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface FileDigest {
  /** Lowercase hex sha256 of the file's bytes. */
  hash: string;
  size: number;
}

// 1 MiB: few enough reads (each one is a thread-pool round trip) that syscalls never dominate,
// small enough that the read-ahead buffer of hashFile() stays negligible.
const CHUNK = 1024 * 1024;

/** How a read names its file and stage in errors (`readCapped` is the config file in `load`). */
export interface ReadLabel {
  what: string;
  stage?: ReloadStage;
}
export const CONFIG_FILE: ReadLabel = { what: 'config file', stage: 'load' };

/**
 * Where a read or parse finds its AbortSignal: `signal` is read only when a check is due (between
 * 1 MiB chunks, before an off-thread parse). A reload stage's signal is created on first read,
 * so a small config's reload never creates one. A StageContext, or `{ signal }`.
 */
export interface SignalSource {
  readonly signal?: AbortSignal | undefined;
}
const ANY_FILE: ReadLabel = { what: 'file' };

// O_NONBLOCK: open(2) of a FIFO without a writer (or of some devices) otherwise blocks its
// libuv thread until a writer appears, possibly forever; four of them park the whole pool.
// Non-blocking, it returns at once and fstat refuses it. It changes nothing for regular files.
// O_NOCTTY: opening a terminal device must never make it the process's controlling terminal.
// Symlinks are followed on purpose: a ConfigMap file is one (`config.yaml -> ..data/config.yaml`).
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * Read a whole file, hashing as it streams, and stop as soon as it exceeds `maxBytes`.
 * The fstat size refuses an oversized file at once and sizes the one buffer the bytes land in,
 * but it is not trusted: a file that grows while being read still ends at `maxBytes`, and one
 * that shrinks ends at its new end.
 */
export function readCapped(path: string, maxBytes: number, signal?: AbortSignal): Promise<ReadResult> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return readRegular(path, maxBytes, CONFIG_FILE, signal && { signal });
}

/**
 * `readCapped()` for any file (side files, manifests): errors name `label.what` and `label.stage`.
 * `abort` is checked between chunks only, not before the first read: watchConfig's load stage
 * calls this first thing, before its deadline can have passed, and readCapped() checks its
 * caller's signal up front.
 */
export async function readRegular(path: string, maxBytes: number, label: ReadLabel, abort?: SignalSource): Promise<ReadResult> {
  const { what, stage } = label;
  const { fd, size: statSize } = await openRegular(path, label, maxBytes);
  // +1: a read that fills the last byte shows the file grew after fstat.
  let buf: Buffer = Buffer.allocUnsafe(Math.min(statSize, maxBytes) + 1);
  const hash = createHash('sha256');
  let size = 0;
  let ahead: Promise<number> | undefined;
  let closing: Promise<void> | undefined;
  try {
    let bytesRead = await readAt(fd, buf, 0, Math.min(CHUNK, buf.length), 0, label);
    for (;;) {
      const want = Math.min(CHUNK, buf.length - size);
      const full = bytesRead === want;
      const start = size;
      size += bytesRead;
      if (size > maxBytes) throw tooLarge(what, maxBytes, stage);
      // A short read at or past the fstat size is the end (fs.readFile relies on the same). Below
      // it, or with size 0 (unknown: procfs hands such files out a page per read), only 0 is.
      if (bytesRead === 0 || (!full && statSize > 0 && size >= statSize)) {
        // No read is in flight: the close runs on the thread pool while the last chunk is hashed.
        closing = closeFd(fd);
        hash.update(buf.subarray(start, size));
        break;
      }
      if (size === buf.length) buf = grow(buf, size, maxBytes);
      abort?.signal?.throwIfAborted();
      // Read the next chunk on the thread pool while this one is hashed on the main thread.
      ahead = readAt(fd, buf, size, Math.min(CHUNK, buf.length - size), size, label);
      hash.update(buf.subarray(start, size));
      bytesRead = await ahead;
      ahead = undefined;
    }
    return { bytes: buf.subarray(0, size), hash: hash.digest('hex'), size };
  } finally {
    // Never close an fd a read is still using: the number could be reused by the next open().
    await ahead?.catch(() => {});
    await (closing ?? closeFd(fd));
  }
}

/**
 * The sha256 of a file, streamed through two reused 1 MiB buffers (one being hashed while the
 * next is read), so memory stays bounded whatever the file's size. Use it wherever only the
 * digest is needed; `readCapped()` is for bytes that will be parsed.
 */
export async function hashFile(path: string, options: HashFileOptions = {}): Promise<FileDigest> {
  const maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new TypeError('hashFile: options.maxBytes must be a non-negative integer');
  const { signal } = options;
  signal?.throwIfAborted();
  const { fd, size: statSize } = await openRegular(path, ANY_FILE, maxBytes);
  const hash = createHash('sha256');
  const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)] as const;
  let size = 0;
  let ahead: Promise<number> | undefined;
  let closing: Promise<void> | undefined;
  try {
    let current = 0;
    let bytesRead = await readAt(fd, buffers[0], 0, CHUNK, 0, ANY_FILE);
    while (bytesRead > 0) {
      size += bytesRead;
      if (size > maxBytes) throw tooLarge('file', maxBytes);
      signal?.throwIfAborted();
      const chunk = buffers[current]!.subarray(0, bytesRead);
      const end = bytesRead < CHUNK && statSize > 0 && size >= statSize;
      current ^= 1;
      // A short read at the fstat size is the end (then the close runs meanwhile); otherwise
      // fetch the next chunk into the other buffer meanwhile.
      if (end) closing = closeFd(fd);
      else ahead = readAt(fd, buffers[current]!, 0, CHUNK, size, ANY_FILE);
      hash.update(chunk);
      bytesRead = ahead ? await ahead : 0;
      ahead = undefined;
    }
    return { hash: hash.digest('hex'), size };
  } finally {
    await ahead?.catch(() => {});
    await (closing ?? closeFd(fd));
  }
}

// Plain fds with the callback API rather than FileHandle: per reload of a small config the
// FileHandle wrapper (object, ref counting, Stats object) cost ~10 % of the CPU of the whole read.
function call<R>(fn: (done: (err: NodeJS.ErrnoException | null, value: R) => void) => void): Promise<R> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

async function openRegular(path: string, label: ReadLabel, maxBytes: number): Promise<{ fd: number; size: number }> {
  const { what, stage } = label;
  let fd: number;
  try {
    fd = await call<number>((done) => open(path, OPEN_FLAGS, done));
  } catch (err) {
    // ENXIO: a UNIX socket (or a device without a driver) cannot be opened at all.
    if ((err as NodeJS.ErrnoException).code === 'ENXIO') throw notRegular(what, 'a socket or an absent device', stage, err);
    throw fsError(err, what, stage);
  }
  try {
    let stat: Stats;
    try {
      stat = await call<Stats>((done) => fstat(fd, done));
    } catch (err) {
      throw fsError(err, what, stage);
    }
    // Refused before any read: a FIFO or a device (/dev/zero, /dev/urandom) never ends.
    if (!stat.isFile()) throw notRegular(what, kind(stat), stage);
    if (stat.size > maxBytes) throw tooLarge(what, maxBytes, stage);
    return { fd, size: stat.size };
  } catch (err) {
    await closeFd(fd);
    throw err;
  }
}

function kind(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  return 'an unknown file type';
}

function notRegular(what: string, found: string, stage: ReloadStage | undefined, cause?: unknown): ConfigError {
  return new ConfigError('read_error', `${what} path is not a regular file (${found})`, { cause, stage });
}

async function readAt(fd: number, buf: Buffer, offset: number, length: number, position: number, label: ReadLabel): Promise<number> {
  try {
    // Explicit positions: with a read-ahead in flight, the file position must not be shared state.
    return await call<number>((done) => read(fd, buf, offset, length, position, done));
  } catch (err) {
    throw fsError(err, label.what, label.stage);
  }
}

function closeFd(fd: number): Promise<void> {
  // A failed close of a read-only fd loses nothing.
  return new Promise((resolve) => close(fd, () => resolve()));
}

/** Room for a file that grew after fstat: at least one more chunk, never past maxBytes + 1. */
function grow(buf: Buffer, size: number, maxBytes: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(size * 2, size + CHUNK)));
  buf.copy(bigger, 0, 0, size);
  return bigger;
}

function tooLarge(what: string, maxBytes: number, stage?: ReloadStage): ConfigError {
  return new ConfigError('too_large', `${what} exceeds maxBytes (${maxBytes})`, { stage });
}
