import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { DiagnosticSink } from './diagnostics.ts';
import { FollowedPaths, type WatchSet } from './followed-paths.ts';
import { describeValue, MAX_TIMER_MS, Options } from './options.ts';

export interface WatchOptions {
  /** Quiet time after the last event before reloading. Default 200 ms. */
  debounceMs?: number;
  /** Reload at least this often during a continuous burst of events. Default 2 000 ms. */
  maxWaitMs?: number;
  /** Poll every N ms (at least 10) instead of using filesystem events (network filesystems, some containers). */
  pollMs?: number;
}

export interface DirectoryWatch {
  /** Settles once the paths have been followed through their symlinks and every entry they resolve through is watched. */
  readonly ready: Promise<void>;
  close(): void;
}

export const DEFAULT_DEBOUNCE_MS = 200;
export const DEFAULT_MAX_WAIT_MS = 2_000;
/** Polling interval of the fallbacks: after fs.watch failed, and while a watched directory is gone. */
export const FALLBACK_POLL_MS = 1_000;
/** How often a watched directory's identity, and what the paths resolve through, are checked when no event hinted at a change. */
export const RECHECK_MS = 5_000;
/** Shorter poll intervals are refused: a stat of every file 100 times a second is a busy loop. */
export const MIN_POLL_MS = 10;

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
  if (typeof fn !== 'function') throw new TypeError(`debounce: fn must be a function, got ${describeValue(fn)}`);
  const args = Options.of('debounce', { debounceMs, maxWaitMs }, '');
  args.required('debounceMs', args.duration('debounceMs', true), 'a number of milliseconds');
  args.required('maxWaitMs', args.duration('maxWaitMs'), 'a number of milliseconds');
  const leading = Options.of('debounce', options).boolean('leading') ?? false;
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

/** Options of `watchFiles()` (and `watchConfig({ watch })`), checked and with defaults applied. */
export interface WatchSettings {
  debounceMs: number;
  maxWaitMs: number;
  pollMs: number | undefined;
}

/** The one place watch options are checked: `watchFiles()` and `watchConfig({ watch })` share it. */
export function checkWatchOptions(o: Options | undefined): WatchSettings {
  return {
    debounceMs: o?.duration('debounceMs', true) ?? DEFAULT_DEBOUNCE_MS,
    maxWaitMs: o?.duration('maxWaitMs') ?? DEFAULT_MAX_WAIT_MS,
    pollMs: o?.number('pollMs', { min: MIN_POLL_MS, max: MAX_TIMER_MS }),
  };
}

type Trigger = 'file' | 'poll';

/**
 * Watch the directories holding `files` (not the files: editors and Kubernetes replace a file's
 * inode, which ends a file watch) and call `onChange` for events about those names or about
 * Kubernetes' `..data` machinery. A path that goes through symlinks is followed (`followed-paths.ts`):
 * the directory of every link in the chain and the directory the file really is in are watched,
 * and followed again after each event, each `rename` in any of them and every RECHECK_MS, so when
 * a link moves the watches move with it (closing those no path needs any more).
 * Events are only hints: the reload compares content hashes, so a spurious event costs one
 * `unchanged` run, and the exact event type never matters.
 * `onChange` gets the reload trigger: `file` for events, `poll` when polling.
 */
export function watchFiles(
  files: readonly string[],
  onChange: (trigger: Trigger) => void,
  options: WatchOptions,
  report: DiagnosticSink,
): DirectoryWatch {
  if (!Array.isArray(files) || files.length === 0 || !files.every((f) => typeof f === 'string' && f !== '')) {
    throw new TypeError(`watchFiles: files must be a non-empty array of non-empty strings, got ${describeValue(files)}`);
  }
  if (typeof onChange !== 'function') throw new TypeError(`watchFiles: onChange must be a function, got ${describeValue(onChange)}`);
  if (typeof report !== 'function') throw new TypeError(`watchFiles: report must be a function, got ${describeValue(report)}`);
  const settings = checkWatchOptions(Options.of('watchFiles', options));

  let mode: Trigger = settings.pollMs === undefined ? 'file' : 'poll';
  let last: Trigger = mode;
  const debounced = debounce(() => onChange(last), settings.debounceMs, settings.maxWaitMs);
  const changed = (trigger: Trigger) => {
    last = mode === 'poll' ? 'poll' : trigger;
    debounced.trigger();
  };
  const dirs = new Map<string, { watch: WatchedDirectory; names: Set<string> }>();
  let poller: { close(): void } | undefined;
  let follower: FollowedPaths | undefined;
  let recheck: NodeJS.Timeout | undefined;
  let closed = false;

  const stopWatching = () => {
    follower?.close();
    clearTimeout(recheck);
    for (const d of dirs.values()) d.watch.close();
    dirs.clear();
  };
  const fallBackToPolling = (why: string) => {
    if (poller || closed) return;
    stopWatching();
    report({ code: 'watch_error', message: `${why}; polling every ${FALLBACK_POLL_MS} ms` });
    mode = 'poll';
    poller = pollFiles(files, FALLBACK_POLL_MS, () => changed('poll'));
  };

  /** Watch exactly `set`: open what is new, close what no path resolves through any more. True when anything moved. */
  const apply = (set: WatchSet, hooks: DirectoryHooks): boolean => {
    let moved = false;
    for (const [dir, d] of dirs) {
      if (set.has(dir)) continue;
      d.watch.close();
      dirs.delete(dir);
      moved = true;
    }
    for (const [dir, names] of set) {
      const known = dirs.get(dir);
      if (known) {
        if (names.size !== known.names.size || [...names].some((n) => !known.names.has(n))) {
          known.names.clear();
          for (const n of names) known.names.add(n);
          moved = true;
        }
        continue;
      }
      const watch = watchDirectory(dir, names, hooks);
      // Opening it may have switched everything to polling.
      if (poller || closed) {
        watch.close();
        return moved;
      }
      dirs.set(dir, { watch, names });
      moved = true;
    }
    return moved;
  };

  let ready = Promise.resolve();
  if (settings.pollMs !== undefined) {
    poller = pollFiles(files, settings.pollMs, () => changed('poll'));
  } else {
    let followed = false;
    const follow = () => follower?.request() ?? Promise.resolve();
    const hooks: DirectoryHooks = {
      changed: (trigger) => {
        changed(trigger);
        // The event may have been a link moving: follow the paths again.
        void follow();
      },
      failed: fallBackToPolling,
      report,
      // A rename anywhere may be a swap of another watched directory (a bundle's `current`
      // symlink is renamed in its parent): every directory checks what it is watching.
      renamed: () => {
        for (const d of dirs.values()) d.watch.check();
        void follow();
      },
      follow,
    };
    follower = new FollowedPaths(
      files,
      (set) => {
        // The first resolution only completes the watch; later moves may have changed the file.
        if (apply(set, hooks) && followed) changed('file');
        followed = true;
      },
      fallBackToPolling,
    );
    apply(follower.initial(), hooks);
    const periodic = () => {
      recheck = setTimeout(() => void follow().then(() => !closed && !poller && periodic()), RECHECK_MS);
      recheck.unref();
    };
    ready = follow().then(() => {
      if (!closed && !poller) periodic();
    });
  }

  return {
    ready,
    close() {
      closed = true;
      debounced.cancel();
      stopWatching();
      poller?.close();
    },
  };
}

interface DirectoryHooks {
  changed(trigger: Trigger): void;
  /** The watch itself broke (not the directory): the caller switches everything to polling. */
  failed(why: string): void;
  report: DiagnosticSink;
  renamed(): void;
  /** Follow the paths again; settles when the watch set is current (a directory not needed any more is closed by then). */
  follow(): Promise<void>;
}

interface WatchedDirectory {
  /** Compare the directory at the path with the one being watched (no-op while it is missing). */
  check(): void;
  close(): void;
}

type Identity = { id: string } | { gone: string };

/**
 * `dev:ino:birthtime` of the directory at `dir` (following symlinks), or why there is none. The
 * birth time is part of it because ext4 hands a directory removed and re-created at once the same
 * inode number: by `dev:ino` alone the dead watch on the old directory looked current, and edits
 * in the new one were never seen. (Filesystems without a birth time report 0: `dev:ino` as before.)
 */
function identify(dir: string): Promise<Identity> {
  return stat(dir, { bigint: true }).then(
    (s) => (s.isDirectory() ? { id: `${s.dev}:${s.ino}:${s.birthtimeNs}` } : { gone: 'is no longer a directory' }),
    (err: NodeJS.ErrnoException) => ({ gone: err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 'was removed' : `cannot be read (${err.code ?? 'error'})` }),
  );
}

/**
 * One directory's watch, kept pointed at whatever directory is at `dir`. On Linux an inotify
 * watch follows the inode: when the directory is removed, renamed or replaced, fs.watch emits at
 * most a `rename` naming the directory itself and then nothing, ever. So the directory's
 * `dev:ino` (and birth time) is checked on every `rename` event, on `error`, and every RECHECK_MS: a new inode is
 * watched at once (a bundle's `current` swapped, `mv new dir`); a missing one is reported once
 * and polled for every FALLBACK_POLL_MS until a directory is back. Both end in a reload, so the
 * missing file is a `not_found` failure (the active version keeps serving) and what reappears is
 * loaded.
 */
function watchDirectory(dir: string, names: ReadonlySet<string>, hooks: DirectoryHooks): WatchedDirectory {
  let watcher: FSWatcher | undefined;
  /** What the watcher was opened on; undefined until the first check after opening it. */
  let identity: string | undefined;
  /** One timer at a time: the periodic check while watching, the poll while the directory is gone. */
  let timer: NodeJS.Timeout | undefined;
  let checking = false;
  let recheck = false;
  let broken: string | undefined;
  let missing = false;
  let closed = false;

  const arm = (ms: number, fn: () => void) => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
    timer.unref();
  };
  const stopWatcher = () => {
    watcher?.close();
    watcher = undefined;
    broken = undefined;
  };

  const open = (): void => {
    try {
      // Not persistent: a config watcher should never be what keeps a process alive.
      watcher = watch(dir, { persistent: false }, (event, file) => {
        const name = file === null ? null : String(file);
        if (name === null || names.has(name) || name.startsWith('..')) hooks.changed('file');
        if (event === 'rename') hooks.renamed();
      });
      watcher.on('error', (err: NodeJS.ErrnoException) => {
        broken = err.code ?? err.name;
        check();
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') lose('does not exist');
      else hooks.failed(`cannot watch directory (${code ?? 'error'})`);
      return;
    }
    check();
  };

  const lose = (why: string): void => {
    stopWatcher();
    identity = undefined;
    // The paths may resolve elsewhere now (a link moved on and the directory it left was removed):
    // nothing is lost then, and following the paths closes this watch before it reports anything.
    void hooks.follow().then(() => {
      if (!closed) missingNow(why);
    });
  };

  const missingNow = (why: string): void => {
    if (!missing) {
      missing = true;
      hooks.report({ code: 'watch_error', message: `watched directory ${dir} ${why}; polling every ${FALLBACK_POLL_MS} ms until it is back` });
      hooks.changed('file');
    }
    arm(FALLBACK_POLL_MS, poll);
  };

  const poll = (): void => {
    void identify(dir).then((found) => {
      if (closed) return;
      if (!('id' in found)) return arm(FALLBACK_POLL_MS, poll);
      // Opened after this stat: the check that follows open() catches a swap in between.
      identity = found.id;
      open();
      hooks.changed('poll');
    });
  };

  const check = (): void => {
    if (checking) {
      recheck = true;
      return;
    }
    checking = true;
    void identify(dir).then((found) => {
      checking = false;
      if (closed || !watcher) return;
      if (!('id' in found)) return lose(found.gone);
      if (identity !== undefined && found.id !== identity) {
        // Replaced by another directory: nothing is missing, so nothing to report.
        stopWatcher();
        identity = found.id;
        open();
        hooks.changed('file');
        return;
      }
      identity = found.id;
      missing = false;
      if (broken !== undefined) return hooks.failed(`directory watch failed (${broken})`);
      if (recheck) {
        recheck = false;
        return check();
      }
      arm(RECHECK_MS, check);
    });
  };

  open();
  return {
    check() {
      if (watcher && !closed) check();
    },
    close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      stopWatcher();
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
