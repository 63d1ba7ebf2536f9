import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { acceptBundleRelease, MANIFEST, RELEASES, type VerifiedBundle, verifyBundle } from '@reloadscope/config';
import { sha256Hex } from '@reloadscope/core';
import { ClusterError } from './errors.ts';

export interface Release {
  /** The real directory: fixed for the generation even if a symlink is swapped later. */
  dir: string;
  /** The release's version label (its directory name). */
  version: string;
  /** The manifest hash for a bundle release, else the sha256 of the real path. */
  hash: string;
  /** Absolute path of the entry file inside `dir`. */
  entry: string;
  /** A bundle release under rollback protection: what to record once it serves (see `acceptRelease`). */
  accepted?: { root: string; verified: VerifiedBundle; stateFile: string | undefined };
}

export interface ReleaseChecks {
  publicKey: string | Buffer | undefined;
  /** Rollback protection (needs `publicKey`): config's `verify.serial` for bundles. */
  serial: { stateFile?: string } | undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Resolve `release` once (the load stage): a directory or a symlink to one, such as the `current`
 * of a @reloadscope/config bundle root. A release with a manifest, or any release when a public key
 * is configured, is verified with config's `verifyBundle` (signature, file hashes, self-containment).
 */
export async function resolveRelease(release: string, entry: string, { publicKey, serial }: ReleaseChecks): Promise<Release> {
  let dir: string;
  try {
    dir = await realpath(release);
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new ClusterError('release_invalid', `release ${JSON.stringify(basename(release))} does not resolve to a directory`, { cause: err, stage: 'load' });
  }
  const entryPath = resolve(dir, entry);
  const inside = relative(dir, entryPath);
  if (inside.startsWith('..') || isAbsolute(inside) || !(await isFile(entryPath))) {
    throw new ClusterError('release_invalid', `entry ${JSON.stringify(entry)} is not a file inside the release`, { stage: 'load' });
  }
  const version = basename(dir);
  const bundle = publicKey !== undefined || (await isFile(join(dir, MANIFEST)));
  if (!bundle) return { dir, version, hash: sha256Hex(dir), entry: entryPath };
  if (basename(dirname(dir)) !== RELEASES) {
    throw new ClusterError('release_invalid', `a verified release must live in a bundle root's ${RELEASES}/ directory`, { stage: 'load' });
  }
  const root = dirname(dirname(dir));
  // With `serial`, config refuses a serial below the floor (this process, the state file) here.
  const verified = await verifyBundle(root, version, publicKey === undefined ? {} : { verify: { publicKey, serial } });
  const out: Release = { dir, version, hash: verified.hash, entry: entryPath };
  if (serial && publicKey !== undefined) out.accepted = { root, verified, stateFile: serial.stateFile };
  return out;
}

/**
 * Raise the rollback floor to a release that now serves (its generation was switched to): in
 * memory for this process, then in the state file. Never rejects (a failed write is config's
 * `serial_state_failed` diagnostic).
 */
export function acceptRelease(release: Release, target: string): Promise<void> {
  const a = release.accepted;
  return a ? acceptBundleRelease(a.root, a.verified, { stateFile: a.stateFile, target }) : Promise.resolve();
}
