import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { DiagnosticSink } from './diagnostics.ts';

export interface WatchOptions {
  /** Quiet time after the last event before reloading. Default 200 ms. */
  debounceMs?: number;
  /** Reload at least this often during a continuous burst of events. Default 2 000 ms. */
  maxWaitMs?: number;
  /** Poll every N ms instead of using filesystem events (network filesystems, some containers). */
  pollMs?: number;
}

export interface DirectoryWatch {
  close(): void;
}

export const DEFAULT_DEBOUNCE_MS = 200;
export const DEFAULT_MAX_WAIT_MS = 2_000;

export interface DebounceOptions {
  /**
   * Call at once on the first trigger of a burst, then at most once more when it is over (or
   * every `maxWaitMs` while it lasts). For explicit requests (SIGHUP) that mean "now"; file
   * events stay trailing-only, since the first event of a save usually comes before the write ends.
   */
  leading?: boolean;
}

/**
 * A trailing debounce with a max wait: many events (editors, Kubernetes, chunked writes) become
 * one call once things are quiet, but a never-ending storm still gets a call every `maxWaitMs`.
 * With `leading`, a burst is the leading call plus one trailing call, so a lone trigger is not delayed.
 */
export function debounce(
  fn: () => void,
  debounceMs: number,
  maxWaitMs: number,
  options: DebounceOptions = {},
): { trigger(): void; cancel(): void } {
  const leading = options.leading === true;
  let timer: NodeJS.Timeout | undefined;
  let firstAt: number | undefined;
  // Only with `leading`: whether a trigger arrived since the window opened (else the window just closes).
  let pending = false;
  const schedule = (wait: number) => {
    timer = setTimeout(fire, wait);
    timer.unref();
  };
  const fire = () => {
    timer = undefined;
    firstAt = undefined;
    if (leading && !pending) return;
    pending = false;
    fn();
    // A trailing call opens a quiet window of its own, so a storm that goes on is not answered
    // by a trailing call immediately followed by a leading one.
    if (leading) {
      firstAt = Date.now();
      schedule(debounceMs);
    }
  };
  return {
    trigger() {
      const now = Date.now();
      if (leading && firstAt === undefined) {
        firstAt = now;
        schedule(debounceMs);
        fn();
        return;
      }
      firstAt ??= now;
      pending = true;
      if (timer) clearTimeout(timer);
      schedule(Math.max(0, Math.min(debounceMs, firstAt + maxWaitMs - now)));
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      firstAt = undefined;
      pending = false;
    },
  };
}

/**
 * Watch the directories holding `files` (not the files: editors and Kubernetes replace a file's
 * inode, which ends a file watch) and call `onChange` for events about those names or about
 * Kubernetes' `..data` machinery. Events are only hints: the reload compares content hashes, so a
 * spurious event costs one `unchanged` run, and the exact event type never matters.
 * `onChange` gets the reload trigger: `file` for events, `poll` when polling.
 */
export function watchFiles(
  files: readonly string[],
  onChange: (trigger: 'file' | 'poll') => void,
  options: WatchOptions,
  report: DiagnosticSink,
): DirectoryWatch {
  let mode: 'file' | 'poll' = options.pollMs === undefined ? 'file' : 'poll';
  const debounced = debounce(() => onChange(mode), options.debounceMs ?? DEFAULT_DEBOUNCE_MS, options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS);
  const byDir = new Map<string, Set<string>>();
  for (const file of files) {
    const names = byDir.get(dirname(file)) ?? new Set<string>();
    names.add(basename(file));
    byDir.set(dirname(file), names);
  }
  const watchers: FSWatcher[] = [];
  let poller: { close(): void } | undefined;
  let closed = false;

  const fallBackToPolling = (why: string) => {
    if (poller || closed) return;
    for (const w of watchers.splice(0)) w.close();
    report({ code: 'watch_error', message: `${why}; polling every 1000 ms` });
    mode = 'poll';
    poller = pollFiles(files, 1_000, debounced.trigger);
  };

  if (options.pollMs !== undefined) {
    poller = pollFiles(files, options.pollMs, debounced.trigger);
  } else {
    for (const [dir, names] of byDir) {
      try {
        // Not persistent: a config watcher should never be what keeps a process alive.
        const watcher = watch(dir, { persistent: false }, (_event, file) => {
          const name = file === null ? null : String(file);
          if (name === null || names.has(name) || name.startsWith('..')) debounced.trigger();
        });
        watcher.on('error', (err: NodeJS.ErrnoException) => fallBackToPolling(`directory watch failed (${err.code ?? err.name})`));
        watchers.push(watcher);
      } catch (err) {
        fallBackToPolling(`cannot watch directory (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
        break;
      }
    }
  }

  return {
    close() {
      closed = true;
      debounced.cancel();
      for (const w of watchers.splice(0)) w.close();
      poller?.close();
    },
  };
}

/**
 * Polling fallback: a fingerprint (inode, size, mtime, following symlinks) per file.
 * Content is still compared by hash when the reload runs.
 */
function pollFiles(paths: readonly string[], everyMs: number, onChange: () => void): { close(): void } {
  let last: string | undefined;
  let busy = false;
  const fingerprint = async () => {
    const parts = await Promise.all(
      paths.map((p) =>
        stat(p, { bigint: true }).then(
          (s) => `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`,
          (err: NodeJS.ErrnoException) => `error:${err.code}`,
        ),
      ),
    );
    return parts.join('|');
  };
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const now = await fingerprint();
      if (last !== undefined && now !== last) onChange();
      last = now;
    } finally {
      busy = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), everyMs);
  timer.unref();
  return { close: () => clearInterval(timer) };
}

/** Decode the octal escapes (`\040` for a space) that /proc/self/mountinfo uses in paths. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/**
 * True when `file` is itself a mount point: what a Kubernetes `subPath` mount of a ConfigMap
 * key looks like. Such a file is a bind mount of one inode and never sees updates.
 */
export function isFileMountPoint(file: string, mountinfo: string): boolean {
  for (const line of mountinfo.split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint !== undefined && unescapeMountPath(mountPoint) === file) return true;
  }
  return false;
}
