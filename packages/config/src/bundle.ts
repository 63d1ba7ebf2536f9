import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readlink, rename, rm, stat, symlink, unlink, utimes } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { ReloadInstrumentation, type ReloadResult, type ReloadTrigger, sha256Hex } from '@reloadscope/core';
import { ConfigError, fsError } from './errors.ts';
import { parseBuiltin } from './parse.ts';
import { hashFile, readCapped } from './read.ts';

/**
 * A versioned bundle directory:
 *
 *   <root>/releases/<version>/…files…     immutable once written
 *   <root>/releases/<version>/manifest.json  { "files": { "<relative path>": "<sha256 hex>" } }
 *   <root>/current -> releases/<version>  the only thing that ever changes, by rename(2)
 *
 * rename(2) of a symlink over `current` is atomic, and a version is verified before `current`
 * may point at it, so a process killed at any moment leaves `current` at a complete version.
 */
export const MANIFEST = 'manifest.json';
export const RELEASES = 'releases';
export const CURRENT = 'current';
const TMP_PREFIX = '.current-';
const VERSION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface BundleManifest {
  files: Record<string, string>;
}

export interface VerifiedBundle {
  version: string;
  dir: string;
  /** sha256 of the manifest bytes: the bundle's identity (the manifest pins every file's hash). */
  hash: string;
  files: number;
  size: number;
}

export interface ActivateBundleOptions {
  root: string;
  version: string;
  /** Releases to keep on disk, the active one included (min 1). Default 3. */
  keep?: number;
  instrumentation?: ReloadInstrumentation;
  /** Default: the root directory's base name. */
  target?: string;
  trigger?: ReloadTrigger;
  timeoutMs?: number;
  /** Per-file cap while hashing. Default 100 MiB. */
  maxFileBytes?: number;
}

let sharedInstrumentation: ReloadInstrumentation | undefined;

/** One instrumentation for all calls without one, so generations and `unchanged` span calls. */
function defaultInstrumentation(): ReloadInstrumentation {
  if (!sharedInstrumentation) sharedInstrumentation = new ReloadInstrumentation();
  return sharedInstrumentation;
}

/** Check a version name: it becomes a path segment, so it must not be able to escape `releases/`. */
function checkVersion(version: string): void {
  if (typeof version !== 'string' || !VERSION_NAME.test(version) || version === '.' || version === '..') {
    throw new TypeError(`bundle version must match ${VERSION_NAME}, got ${JSON.stringify(version)}`);
  }
}

async function parseManifest(bytes: Buffer, signal: AbortSignal | undefined): Promise<BundleManifest> {
  let value: unknown;
  try {
    // The config parser: depth-capped, and off the main thread (stopped by the deadline) when large.
    value = await parseBuiltin(bytes, 'json', signal);
  } catch (err) {
    if (!(err instanceof ConfigError) || (err.code !== 'parse_error' && err.code !== 'empty')) throw err;
    throw new ConfigError('bundle_invalid', `bundle manifest is not valid JSON (${err.message})`, { cause: err, stage: 'load' });
  }
  const files = (value as { files?: unknown } | null)?.files;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) {
    throw new ConfigError('bundle_invalid', 'bundle manifest has no "files" object', { stage: 'load' });
  }
  for (const [path, hash] of Object.entries(files)) {
    const clean = normalize(path);
    if (isAbsolute(path) || clean.startsWith(`..${sep}`) || clean === '..' || clean === MANIFEST) {
      throw new ConfigError('bundle_invalid', 'bundle manifest names a path outside the bundle', { stage: 'load' });
    }
    if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) {
      throw new ConfigError('bundle_invalid', 'bundle manifest holds a malformed sha256', { stage: 'load' });
    }
  }
  return { files: files as Record<string, string> };
}

/** Read a release's manifest (the load stage): its hash is the bundle identity. */
export async function readBundleManifest(root: string, version: string, signal?: AbortSignal): Promise<{ manifest: BundleManifest; hash: string; dir: string }> {
  checkVersion(version);
  const dir = join(root, RELEASES, version);
  let read: Awaited<ReturnType<typeof readCapped>>;
  try {
    read = await readCapped(join(dir, MANIFEST), 16 * 1024 * 1024);
  } catch (err) {
    if (err instanceof ConfigError && err.code === 'not_found') {
      throw new ConfigError('bundle_invalid', `release ${version} has no ${MANIFEST} (incomplete or missing)`, { cause: err, stage: 'load' });
    }
    throw err;
  }
  return { manifest: await parseManifest(read.bytes, signal), hash: read.hash, dir };
}

/** Check every file against the manifest (the verify stage). */
export async function verifyBundleFiles(dir: string, manifest: BundleManifest, maxFileBytes = 100 * 1024 * 1024): Promise<{ files: number; size: number }> {
  let size = 0;
  const entries = Object.entries(manifest.files);
  for (const [path, expected] of entries) {
    let actual: Awaited<ReturnType<typeof hashFile>>;
    try {
      // Only the digest matters here: stream it, never hold a (possibly large) release file.
      actual = await hashFile(join(dir, path), { maxBytes: maxFileBytes });
    } catch (err) {
      if (err instanceof ConfigError && err.code === 'not_found') {
        throw new ConfigError('bundle_invalid', `bundle file listed in the manifest is missing`, { cause: err, stage: 'verify' });
      }
      throw err;
    }
    if (actual.hash !== expected) {
      throw new ConfigError('checksum_mismatch', `bundle file sha256 ${actual.hash} does not match the manifest's ${expected}`, { stage: 'verify' });
    }
    size += actual.size;
  }
  return { files: entries.length, size };
}

/** Load and fully verify a release without activating it. */
export async function verifyBundle(root: string, version: string): Promise<VerifiedBundle> {
  const { manifest, hash, dir } = await readBundleManifest(root, version);
  const { files, size } = await verifyBundleFiles(dir, manifest);
  return { version, dir, hash, files, size };
}

/** The version `current` points at, or undefined when nothing was activated yet. */
export async function activeBundleVersion(root: string): Promise<string | undefined> {
  let link: string;
  try {
    link = await readlink(join(root, CURRENT));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(err, 'current symlink', 'load');
  }
  return basename(link);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Point `current` at a release: a fresh symlink renamed over the old one (atomic). */
async function pointCurrentAt(root: string, version: string): Promise<void> {
  const tmp = join(root, `${TMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
  await symlink(join(RELEASES, version), tmp);
  try {
    await rename(tmp, join(root, CURRENT));
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  // Durability across power loss (SIGKILL needs nothing: the rename is already visible).
  await fsyncDir(root).catch(() => {});
}

/** Symlinks left by a process killed between symlink() and rename(). */
async function removeStaleTemps(root: string): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (name.startsWith(TMP_PREFIX)) await unlink(join(root, name)).catch(() => {});
  }
}

/**
 * Remove releases beyond `keep`, most recently activated first (activation touches the release
 * directory's mtime). Never removes the active version or the one it replaced.
 */
async function pruneReleases(root: string, keep: number, protect: ReadonlySet<string>): Promise<string[]> {
  const releasesDir = join(root, RELEASES);
  const names = await readdir(releasesDir);
  const dated = await Promise.all(
    names.map(async (name) => ({ name, mtime: (await stat(join(releasesDir, name)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  dated.sort((a, b) => b.mtime - a.mtime);
  const removed: string[] = [];
  let kept = 0;
  for (const { name } of dated) {
    if (protect.has(name) || kept < keep) {
      kept += 1;
      continue;
    }
    // Make the release unverifiable first, so a half-removed directory can never be activated.
    await rm(join(releasesDir, name, MANIFEST), { force: true });
    await rm(join(releasesDir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

interface BundleCandidate {
  version: string;
  hash: string;
  dir: string;
  manifest: BundleManifest;
}

/**
 * Verify `releases/<version>` against its manifest and switch `current` to it atomically, as one
 * reloadscope run (load = manifest, verify = every file's sha256, switch = symlink + rename(2),
 * unload = prune beyond `keep`, rollback = point `current` back). Never throws for a failed
 * activation: the result's outcome says what happened.
 */
export function activateBundle(options: ActivateBundleOptions): Promise<ReloadResult> {
  const { root, version } = options;
  if (typeof root !== 'string' || root === '') throw new TypeError('activateBundle: options.root must be a non-empty string');
  checkVersion(version);
  const keep = Math.max(1, options.keep ?? 3);
  const reloads = options.instrumentation ?? defaultInstrumentation();
  let previous: string | undefined;
  return reloads.reload<BundleCandidate, string | undefined>(
    { target: options.target ?? basename(root), trigger: options.trigger ?? 'api', timeoutMs: options.timeoutMs },
    {
      load: async (ctx) => {
        await removeStaleTemps(root);
        const { manifest, hash, dir } = await readBundleManifest(root, version, ctx.signal);
        return { version, hash, dir, manifest };
      },
      identify: (c) => ({ hash: c.hash, version: c.version }),
      verify: async (c) => {
        await verifyBundleFiles(c.dir, c.manifest, options.maxFileBytes);
      },
      switch: async (c) => {
        previous = await activeBundleVersion(root);
        const now = new Date();
        await utimes(c.dir, now, now);
        await pointCurrentAt(root, c.version);
        return previous;
      },
      rollback: async () => {
        if (previous !== undefined && (await activeBundleVersion(root)) === version) await pointCurrentAt(root, previous);
      },
      unload: async (prev) => {
        const protect = new Set([version]);
        if (prev !== undefined) protect.add(prev);
        await pruneReleases(root, keep, protect);
      },
    },
  );
}

/**
 * Write a release directory and its manifest (a helper for build/deploy scripts and tests).
 * Every file and directory is fsynced before the manifest is renamed in, and the manifest before
 * the function returns: after a power loss a release either has no manifest (incomplete, never
 * activated) or has all of its files.
 */
export async function writeRelease(root: string, version: string, files: Record<string, string | Uint8Array>): Promise<string> {
  checkVersion(version);
  const dir = join(root, RELEASES, version);
  const manifest: BundleManifest = { files: {} };
  const dirs = new Set<string>([dir]);
  for (const [path, content] of Object.entries(files)) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeDurably(file, content);
    for (let d = dirname(file); d.startsWith(dir); d = dirname(d)) dirs.add(d);
    manifest.files[path] = sha256Hex(content);
  }
  for (const d of dirs) await fsyncDir(d);
  // The manifest goes last: a release without one is incomplete by definition.
  const tmp = join(dir, `.${MANIFEST}.tmp`);
  await writeDurably(tmp, JSON.stringify(manifest, null, 2));
  await rename(tmp, join(dir, MANIFEST));
  await fsyncDir(dir);
  await fsyncDir(join(root, RELEASES));
  return dir;
}

async function writeDurably(path: string, content: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
