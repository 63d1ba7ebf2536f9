import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { ConfigError, fsError } from './errors.ts';

/**
 * A manifest (or writeRelease) path is a plain relative path: `/`-separated, non-empty segments,
 * none of them `.` or `..`, no backslash (a separator on Windows), no NUL, no drive letter, not
 * under a reserved name (the manifest, its signature). One
 * spelling per file, so "every file on disk is in the manifest" can be checked by name.
 */
export function isReleasePath(path: unknown, reserved: readonly string[]): path is string {
  if (typeof path !== 'string' || path.length === 0 || path.length > 4096) return false;
  if (path.includes('\0') || path.includes('\\') || /^[A-Za-z]:/.test(path)) return false;
  const segments = path.split('/');
  // Reserved names are reserved as directories too: `manifest.json/x` would make the manifest unwritable.
  if (reserved.includes(segments[0]!)) return false;
  return segments.every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

const invalid = (message: string) => new ConfigError('bundle_invalid', message, { stage: 'verify' });

/** True when `path` is `dir` or below it (both real paths). */
function within(dir: string, path: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

async function resolveInside(dir: string, path: string, what: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ConfigError('bundle_invalid', `${what} is missing or a dangling symlink`, { cause: err, stage: 'verify' });
    if (code === 'ELOOP') throw new ConfigError('bundle_invalid', `${what} is a symlink loop`, { cause: err, stage: 'verify' });
    throw fsError(err, what, 'verify');
  }
  // Contents outside the release could change after verification without anyone noticing.
  if (!within(dir, real)) throw invalid(`${what} resolves outside the release directory`);
  return real;
}

/**
 * Check that a release is self-contained and fully pinned by its manifest, and return the real
 * path of every listed file (the paths to hash, so what is hashed is the file inside the release):
 *
 * - the release directory is a directory, not a symlink to one;
 * - every listed path and every symlink in the tree resolves inside the release;
 * - every regular file is listed (under its real path or through an inside symlink), except the
 *   manifest and its signature, and has one link only (a hard link shares its inode with a file
 *   elsewhere, which can then be edited from there);
 * - nothing else (FIFO, socket, device) is present.
 */
export async function checkReleaseTree(dir: string, listed: readonly string[], reserved: readonly string[]): Promise<Map<string, string>> {
  let top: Stats;
  try {
    top = await lstat(dir);
  } catch (err) {
    throw fsError(err, 'release directory', 'verify');
  }
  if (!top.isDirectory()) throw invalid('the release directory is a symlink or not a directory');
  const real = await realpath(dir).catch((err: unknown) => Promise.reject(fsError(err, 'release directory', 'verify')));

  const resolved = new Map<string, string>();
  const pinned = new Set<string>(reserved.map((name) => join(real, name)));
  for (const path of listed) {
    const file = await resolveInside(real, join(real, path), 'a bundle file listed in the manifest');
    const info = await stat(file).catch((err: unknown) => Promise.reject(fsError(err, 'bundle file', 'verify')));
    if (!info.isFile()) throw invalid('a path listed in the manifest is not a regular file');
    resolved.set(path, file);
    pinned.add(file);
  }

  const pending = [real];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    let entries: Dirent[];
    try {
      entries = await readdir(next, { withFileTypes: true });
    } catch (err) {
      throw fsError(err, 'release directory', 'verify');
    }
    for (const entry of entries) {
      const path = join(next, entry.name);
      if (entry.isDirectory()) {
        pending.push(path);
      } else if (entry.isSymbolicLink()) {
        await resolveInside(real, path, 'a symlink in the release');
      } else if (entry.isFile()) {
        if (!pinned.has(path)) throw invalid('the release holds a file its manifest does not list');
        const info = await lstat(path).catch((err: unknown) => Promise.reject(fsError(err, 'bundle file', 'verify')));
        if (info.nlink > 1) throw invalid('a bundle file is hard-linked (it shares its content with a file outside the release)');
      } else {
        throw invalid('the release holds a FIFO, socket or device');
      }
    }
  }
  return resolved;
}
