import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, parse, resolve, sep } from 'node:path';
import { ConfigError } from './errors.ts';

const CONFIG_EXTENSIONS = new Set(['.json', '.yaml', '.yml']);

/** A directory path (ConfigMap volume) names its file by `file` or by being the only config file. */
export async function resolveFile(path: string, file: string | undefined): Promise<string> {
  const absolute = resolve(path);
  let isDirectory = false;
  try {
    isDirectory = (await stat(absolute)).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') {
      throw new ConfigError(code === 'EACCES' ? 'permission_denied' : 'read_error', `cannot stat config path ${absolute} (${code})`, { cause: err });
    }
    throw new ConfigError('not_found', `config path ${absolute} does not exist`, { cause: err });
  }
  if (!isDirectory) return absolute;
  if (file !== undefined) return join(absolute, file);
  const entries = (await readdir(absolute)).filter((n) => !n.startsWith('.') && CONFIG_EXTENSIONS.has(extname(n)));
  if (entries.length !== 1) {
    throw new ConfigError('not_found', `config directory ${absolute} holds ${entries.length} config files; name one with options.file`);
  }
  return join(absolute, entries[0]!);
}

/** An entry the path resolves through: `name` in the directory `dir`, a path without symlinks. */
export interface PathEntry {
  dir: string;
  name: string;
}

export interface PathResolution {
  /** Every symlink of the chain, in the order followed, then the file itself (or the first entry that is missing). */
  entries: PathEntry[];
  /** False when the path does not resolve now: an entry is missing, not a directory, unreadable, or a loop. */
  complete: boolean;
}

/** Linux's own limit of symlinks followed in one lookup (beyond it, ELOOP). */
const MAX_SYMLINKS = 40;

/**
 * Follow `path` the way the kernel does, one entry at a time, and name every entry it depends on:
 * each symlink met (a file link, a directory link, Kubernetes' `..data`, a bundle's `current`) in
 * the directory that holds it, and the file in the directory it really is in. A change to any of
 * those entries changes what the path reads; a change anywhere else does not. Relative targets
 * resolve from the link's real directory, and `..` after a link climbs from where the link led.
 */
export async function resolveEntries(path: string): Promise<PathResolution> {
  const absolute = resolve(path);
  const root = parse(absolute).root;
  const entries: PathEntry[] = [];
  let pending = components(absolute.slice(root.length));
  let dir = root;
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '..') {
      dir = dirname(dir);
      continue;
    }
    const entry = join(dir, name);
    const stats = await lstat(entry).catch(() => undefined);
    if (!stats) {
      entries.push({ dir, name });
      return { entries, complete: false };
    }
    if (stats.isSymbolicLink()) {
      entries.push({ dir, name });
      const target = ++links > MAX_SYMLINKS ? undefined : await readlink(entry).catch(() => undefined);
      if (target === undefined) return { entries, complete: false };
      if (isAbsolute(target)) dir = parse(target).root;
      pending = [...components(isAbsolute(target) ? target.slice(parse(target).root.length) : target), ...pending];
      continue;
    }
    if (pending.length === 0) {
      entries.push({ dir, name });
      return { entries, complete: true };
    }
    if (!stats.isDirectory()) {
      entries.push({ dir, name });
      return { entries, complete: false };
    }
    dir = entry;
  }
  // The path named a directory (or the root) through links: nothing more to depend on.
  return { entries, complete: true };
}

function components(path: string): string[] {
  return path.split(sep).filter((c) => c !== '' && c !== '.');
}
