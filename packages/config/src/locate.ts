import { lstat, readdir, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
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

/**
 * Directories on the way to the file that are symlinks (a bundle's `current -> releases/v7`):
 * swapping one changes the file without any event in the file's own directory, so the
 * symlink's parent is watched too.
 */
export async function symlinkedAncestors(file: string): Promise<string[]> {
  const out: string[] = [];
  for (let p = dirname(file); p !== dirname(p); p = dirname(p)) {
    const isLink = await lstat(p).then(
      (s) => s.isSymbolicLink(),
      () => false,
    );
    if (isLink) out.push(p);
  }
  return out;
}
