import { basename, dirname } from 'node:path';
import { type PathEntry, resolveEntries } from './locate.ts';

/** Directories to watch, each with the entry names in it that the paths depend on. */
export type WatchSet = Map<string, Set<string>>;

/**
 * What a set of paths resolves through, kept current. Each `request()` resolves every path again
 * (a few `lstat`s and `readlink`s) and hands the resulting watch set to `apply`. Requests coalesce:
 * one resolution runs at a time, and requests that arrive meanwhile share one more run after it,
 * so an event storm costs two resolutions, not one per event.
 *
 * A path that does not resolve right now (its directory removed, a link dangling) keeps the
 * entries of its last complete resolution besides the ones it still reaches: the directory that
 * went away is where the watcher reports the loss and polls until it is back.
 */
export class FollowedPaths {
  readonly #files: readonly string[];
  readonly #apply: (set: WatchSet) => void;
  readonly #failed: (why: string) => void;
  readonly #lastComplete: PathEntry[][];
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #closed = false;

  /** `failed` hears of a resolution that threw: the watcher cannot follow the paths any more. */
  constructor(files: readonly string[], apply: (set: WatchSet) => void, failed: (why: string) => void) {
    this.#files = files;
    this.#apply = apply;
    this.#failed = failed;
    this.#lastComplete = files.map((f) => [{ dir: dirname(f), name: basename(f) }]);
  }

  /** The set before any resolution: each path's own directory, as given. */
  initial(): WatchSet {
    return toSet(this.#lastComplete.flat());
  }

  /** Resolves once a resolution that started after this call has been applied. */
  request(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (!this.#running) {
      this.#running = this.#resolve()
        .catch((err: NodeJS.ErrnoException) => this.#failed(`cannot follow the watched paths (${err?.code ?? 'error'})`))
        .finally(() => {
          this.#running = undefined;
        });
      return this.#running;
    }
    this.#queued ??= this.#running.then(() => {
      this.#queued = undefined;
      return this.request();
    });
    return this.#queued;
  }

  close(): void {
    this.#closed = true;
  }

  async #resolve(): Promise<void> {
    const resolutions = await Promise.all(this.#files.map((f) => resolveEntries(f)));
    if (this.#closed) return;
    const entries: PathEntry[] = [];
    resolutions.forEach((r, i) => {
      entries.push(...r.entries);
      if (r.complete) this.#lastComplete[i] = r.entries;
      else entries.push(...this.#lastComplete[i]!);
    });
    this.#apply(toSet(entries));
  }
}

function toSet(entries: readonly PathEntry[]): WatchSet {
  const set: WatchSet = new Map();
  for (const { dir, name } of entries) {
    const names = set.get(dir) ?? new Set<string>();
    names.add(name);
    set.set(dir, names);
  }
  return set;
}
