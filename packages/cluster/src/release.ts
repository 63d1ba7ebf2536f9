import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { MANIFEST, RELEASES, verifyBundle } from '@reloadscope/config';
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
export async function resolveRelease(release: string, entry: string, publicKey: string | Buffer | undefined): Promise<Release> {
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
  const verified = await verifyBundle(dirname(dirname(dir)), version, publicKey === undefined ? {} : { verify: { publicKey } });
  return { dir, version, hash: verified.hash, entry: entryPath };
}
