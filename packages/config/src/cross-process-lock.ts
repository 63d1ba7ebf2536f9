import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, rmdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { readCapped } from './read.ts';

/**
 * A lock shared by every process that can reach a directory, for read-check-write sequences that
 * must not interleave (activating a bundle root, raising a serial state file).
 *
 * The lock is a directory `<path>` holding one record `holder-<token>` (pid, host, boot, PID
 * namespace, process start time). It is taken by writing the record into a private staging
 * directory and `rename(2)`-ing that over `<path>`: rename replaces a missing or *empty* directory
 * and fails on a non-empty one, so taking the lock is atomic and the record is complete the moment
 * the lock exists. A lock whose holder is gone is broken by unlinking that holder's own record
 * (only one process can unlink one name) and then `rmdir` (which only removes an empty directory):
 * two processes breaking the same stale lock, or one breaking it just as a new holder arrives, can
 * never remove a live holder's record. An empty lock directory (a holder or breaker killed between
 * its two steps) is no lock at all: the next rename replaces it.
 *
 * Stale, for a holder on this host, boot and PID namespace: its pid is gone, or now belongs to a
 * process that started at another time (pid reuse). From an earlier boot: always. On another host
 * or in another PID namespace, where pids mean nothing here: its record was not refreshed (the
 * holder touches it every HEARTBEAT_MS) for FOREIGN_STALE_MS. A record that does not parse was not
 * written by this code (a record is complete before its lock exists; only a power loss can tear
 * one, and every lock from before a reboot is stale anyway): stale.
 */
const HOLDER_PREFIX = 'holder-';
const HEARTBEAT_MS = 2_000;
const FOREIGN_STALE_MS = 30_000;
const MAX_RECORD_BYTES = 4096;
const POLL_MIN_MS = 5;
const POLL_MAX_MS = 100;

interface Identity {
  host: string;
  /** The kernel's boot id: a lock written before a reboot is stale whatever its pid says. */
  boot: string | undefined;
  /** The PID namespace: a pid is only meaningful inside its own. */
  pidns: string | undefined;
}

export interface HolderRecord extends Identity {
  pid: number;
  /** The holder's start time (clock ticks after boot, from /proc/<pid>/stat), to recognise pid reuse. */
  start: string | undefined;
  token: string;
}

export interface HeldLock {
  /** False once someone judged this lock stale and broke it (a holder frozen longer than the rules allow). */
  held(): Promise<boolean>;
  /** Frees the lock. Never rejects; a second call does nothing. */
  release(): Promise<void>;
}

/** The lock stayed held by a live process until the deadline. */
export class LockBusyError extends Error {
  readonly code = 'ELOCKED';
  /** The live holder, when its record could be read. */
  readonly holder: HolderRecord | undefined;

  constructor(path: string, holder: HolderRecord | undefined) {
    super(`${basename(path)} is held by ${holder ? describeHolder(holder) : 'an unknown holder (the lock directory holds no record)'}`);
    this.name = 'LockBusyError';
    this.holder = holder;
  }
}

export function describeHolder(holder: HolderRecord): string {
  return `pid ${holder.pid} on ${holder.host}`;
}

let identity: Promise<Identity & { start: string | undefined }> | undefined;

/** This process as a holder record names it (read once: none of it changes while it runs). */
function selfIdentity(): Promise<Identity & { start: string | undefined }> {
  identity ??= Promise.all([
    readFile('/proc/sys/kernel/random/boot_id', 'utf8').then((s) => s.trim(), () => undefined),
    readlink('/proc/self/ns/pid').catch(() => undefined),
    startTime(process.pid),
  ]).then(([boot, pidns, start]) => ({ host: hostname(), boot, pidns, start }));
  return identity;
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command, which may hold spaces). */
async function startTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

const optionalString = (v: unknown) => v === undefined || (typeof v === 'string' && v.length <= 256);

function parseRecord(bytes: Buffer): HolderRecord | undefined {
  let r: Partial<HolderRecord>;
  try {
    r = JSON.parse(bytes.toString('utf8')) as Partial<HolderRecord>;
  } catch {
    return undefined;
  }
  if (typeof r !== 'object' || r === null || !Number.isSafeInteger(r.pid) || (r.pid as number) <= 0) return undefined;
  if (typeof r.host !== 'string' || typeof r.token !== 'string' || !optionalString(r.boot) || !optionalString(r.pidns) || !optionalString(r.start)) return undefined;
  return r as HolderRecord;
}

async function holderAlive(r: HolderRecord, refreshedAtMs: number, me: Identity): Promise<boolean> {
  const sameHost = r.host === me.host;
  if (sameHost && r.boot !== undefined && me.boot !== undefined && r.boot !== me.boot) return false;
  if (!sameHost || r.pidns !== me.pidns || r.boot !== me.boot) return Date.now() - refreshedAtMs < FOREIGN_STALE_MS;
  try {
    process.kill(r.pid, 0);
  } catch (err) {
    // EPERM: the process exists, it just belongs to someone else.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (r.start === undefined) return true;
  const now = await startTime(r.pid);
  return now === undefined || now === r.start;
}

type Inspection = { free: true } | { free: false; holder: HolderRecord | undefined };

/** Who holds the lock at `path`; a stale holder's lock is broken on the way (then it is free). */
async function inspect(path: string, me: Identity): Promise<Inspection> {
  let names: string[];
  try {
    // A symlink or a file at the lock path is not a lock: never followed, never removed.
    if (!(await lstat(path)).isDirectory()) return { free: false, holder: undefined };
    names = await readdir(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { free: true };
    if (code === 'ENOTDIR') return { free: false, holder: undefined };
    throw err;
  }
  const name = names.find((n) => n.startsWith(HOLDER_PREFIX));
  if (name === undefined) {
    // Empty: a holder or breaker died between its two steps. Anything else in it is not ours.
    if (names.length === 0) await rmdir(path).catch(() => {});
    return names.length === 0 ? { free: true } : { free: false, holder: undefined };
  }
  const file = join(path, name);
  let record: HolderRecord | undefined;
  let refreshedAtMs: number;
  try {
    record = parseRecord((await readCapped(file, MAX_RECORD_BYTES)).bytes);
    refreshedAtMs = (await stat(file)).mtimeMs;
  } catch {
    // Gone meanwhile (released), or not a regular file: look again / treat as unparseable.
    if (!(await exists(file))) return { free: true };
    record = undefined;
    refreshedAtMs = 0;
  }
  if (record && (await holderAlive(record, refreshedAtMs, me))) return { free: false, holder: record };
  // Only this name is removed: a breaker that was too late finds it gone and removes nothing else.
  await unlink(file).catch(() => {});
  await rmdir(path).catch(() => {});
  return { free: true };
}

/**
 * Staging directories (`<path>.<token>`) of processes that died waiting. A live waiter refreshes
 * its record; a directory without one is being written right now, unless it is old.
 */
async function removeDeadStagings(path: string, me: Identity): Promise<void> {
  const parent = dirname(path);
  const prefix = `${basename(path)}.`;
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue;
    const dir = join(parent, name);
    try {
      if (!(await lstat(dir)).isDirectory()) continue;
      const record = (await readdir(dir)).find((n) => n.startsWith(HOLDER_PREFIX));
      const file = record === undefined ? dir : join(dir, record);
      const refreshedAtMs = (await stat(file)).mtimeMs;
      const parsed = record === undefined ? undefined : parseRecord((await readCapped(file, MAX_RECORD_BYTES)).bytes);
      const dead = parsed ? !(await holderAlive(parsed, refreshedAtMs, me)) : Date.now() - refreshedAtMs >= FOREIGN_STALE_MS;
      if (dead) await rm(dir, { recursive: true, force: true });
    } catch {
      // Gone meanwhile, or not ours to judge.
    }
  }
}

/** Waits `ms`; rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
const exists = (path: string) => lstat(path).then(() => true, () => false);
/** What rename(2) says when a non-empty directory (a held lock) is in the way, per platform. */
const IN_THE_WAY = new Set(['ENOTEMPTY', 'EEXIST', 'EPERM', 'EISDIR', 'ENOTDIR']);

/**
 * Take the lock at `path` (a directory path whose parent exists), waiting while a live process
 * holds it and breaking it when its holder is gone. Rejects with LockBusyError at `deadline`
 * (epoch ms), with the signal's reason when it aborts, or with the filesystem's error when the
 * lock cannot be written at all (EACCES, EROFS).
 */
export async function acquireLock(path: string, deadline: number, signal?: AbortSignal): Promise<HeldLock> {
  const me = await selfIdentity();
  const token = randomBytes(12).toString('hex');
  const holderName = `${HOLDER_PREFIX}${token}`;
  const staging = `${path}.${token}`;
  const record: HolderRecord = { ...me, pid: process.pid, token };
  let home = staging;
  // No fsync: other processes see the record before the rename makes it the lock, and a record
  // torn by a power loss is malformed, hence stale, which every lock from before a reboot is anyway.
  const write = async () => {
    await mkdir(staging);
    await writeFile(join(staging, holderName), JSON.stringify(record), { flag: 'wx' });
  };
  // Refreshed from the start: a waiter's staging directory is live too.
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(join(home, holderName), now, now).catch(() => {});
  }, HEARTBEAT_MS);
  heartbeat.unref();
  try {
    await write();
    let freeStreak = 0;
    for (let attempt = 0; ; attempt++) {
      let holder: HolderRecord | undefined;
      try {
        await rename(staging, path);
        home = path;
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && !(await exists(staging))) {
          // Our staging directory was removed (judged dead while we were frozen): write it again.
          await write();
        } else {
          const verdict = await inspect(path, me);
          if (verdict.free) {
            // Nothing is in the way, so the rename failed for a reason of its own (EACCES, EROFS…).
            if (!IN_THE_WAY.has(code ?? '') && !(await exists(path))) throw err;
            // Just freed (released or broken): try again at once, but never spin.
            freeStreak += 1;
            if (freeStreak <= 3) continue;
          } else {
            freeStreak = 0;
            holder = verdict.holder;
          }
        }
      }
      if (Date.now() >= deadline) throw new LockBusyError(path, holder);
      const backoff = Math.min(POLL_MAX_MS, POLL_MIN_MS * 2 ** Math.min(attempt, 5));
      await sleep(Math.min(Math.max(1, deadline - Date.now()), backoff / 2 + Math.random() * backoff), signal);
      // Woken at the deadline: give up now, not after another round trip to the filesystem.
      if (Date.now() >= deadline) throw new LockBusyError(path, holder);
    }
  } catch (err) {
    clearInterval(heartbeat);
    await rm(staging, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
  await removeDeadStagings(path, me);
  const mine = join(path, holderName);
  let released = false;
  return {
    held: () => lstat(mine).then(() => !released, () => false),
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      // Our record first, then the (now empty) directory; if someone took the lock in between, rmdir fails and theirs stands.
      await unlink(mine).catch(() => {});
      await rmdir(path).catch(() => {});
    },
  };
}
