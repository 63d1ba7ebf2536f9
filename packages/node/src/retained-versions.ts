import { constants, PerformanceObserver } from 'node:perf_hooks';
import { errorType } from '@reloadscope/core';
import { diagOnce } from './diagnostics.ts';
import { exposedGc } from './heap.ts';

const MIN_FORCED_GC_SPACING_MS = 1_000;

/**
 * One watched version. The entry itself is the object the weak references point at (see
 * `track`); it is kept alive only by the WeakMap entry keyed by its version.
 */
interface Entry {
  target: string;
  /** performance.now() at which the version counts as retained if it survives a full GC. */
  dueAt: number;
}

/**
 * Old versions handed to `unload` that are still alive after a grace period AND a full
 * (mark-compact) garbage collection that ran after it. Each is watched through an entry that
 * lives exactly as long as the version (see `track`), held by a WeakRef, which never keeps it
 * alive, and a FinalizationRegistry entry that forgets it once V8 collects it.
 *
 * Waiting for a full GC is what makes the count honest without --expose-gc: in a quiet process
 * "not collected yet" usually means "V8 has not needed a major GC yet", not a leak. Major GCs are
 * seen through a `gc` PerformanceObserver that is connected only while versions are watched.
 * When `gc` is already exposed, a full GC is run once a grace period has passed, so the count is
 * exact and prompt — at most one per grace period (and per second), however often the target
 * reloads; reloadscope never exposes `gc` itself.
 */
export class RetainedVersions {
  readonly #graceMs: number;
  readonly #entries = new Map<number, WeakRef<Entry>>();
  readonly #targets = new Set<string>();
  readonly #registry: FinalizationRegistry<number> | undefined;
  /** version → its entry: an ephemeron, so the entry lives exactly as long as the version. */
  readonly #byVersion = new WeakMap<object, Entry>();
  #observer: PerformanceObserver | undefined;
  #lastFullGcAt = Number.NEGATIVE_INFINITY;
  #nextId = 1;
  #gcTimer: ReturnType<typeof setTimeout> | undefined;
  #lastForcedGcAt = Number.NEGATIVE_INFINITY;

  constructor(graceMs: number) {
    if (!(Number.isFinite(graceMs) && graceMs >= 0)) throw new TypeError('RetainedVersions: graceMs must be a number >= 0');
    this.#graceMs = graceMs;
    if (typeof FinalizationRegistry === 'function' && typeof WeakRef === 'function') {
      this.#registry = new FinalizationRegistry((id) => this.#forget(id));
    } else {
      diagOnce('weakref', 'warn', 'WeakRef/FinalizationRegistry unavailable; hotreload.retained_versions is not reported');
    }
  }

  /** Make the target's series exist at 0 before its first unload. */
  declareTarget(target: string): void {
    this.#targets.add(target);
  }

  /**
   * Start watching an unloaded version; false when it cannot be watched (a primitive value).
   * A version unloaded again (a target switching between long-lived objects) is one version:
   * its grace period restarts, it is not counted twice.
   */
  track(target: string, version: unknown): boolean {
    this.#targets.add(target);
    if (!this.#registry) return false;
    if ((typeof version !== 'object' && typeof version !== 'function') || version === null) {
      diagOnce(
        `primitive:${target}`,
        'debug',
        `target ${JSON.stringify(target)} unloads a ${typeof version}; only objects and functions can be watched for retention`,
      );
      return false;
    }
    const dueAt = performance.now() + this.#graceMs;
    const known = this.#byVersion.get(version);
    if (known) {
      known.target = target;
      known.dueAt = dueAt;
    } else {
      // V8's minor GC treats the target of a WeakRef or FinalizationRegistry cell as strong, so
      // watching the version directly would promote every unloaded config graph to old space
      // (GC per reload of a 14 KB config: 34–59 µs instead of 11–14 µs). The weak references go
      // to the small entry instead, kept alive only by a WeakMap entry keyed by the version: the
      // version can die young, and the entry dies with it at the next full GC.
      const entry: Entry = { target, dueAt };
      this.#byVersion.set(version, entry);
      const id = this.#nextId++;
      this.#entries.set(id, new WeakRef(entry));
      this.#registry.register(entry, id);
    }
    this.#observeGc();
    this.#scheduleGc();
    return true;
  }

  /** Retained versions per known target (0 for targets with none). */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const target of this.#targets) counts.set(target, 0);
    for (const [id, ref] of this.#entries) {
      const entry = ref.deref();
      if (entry === undefined) {
        this.#forget(id);
        continue;
      }
      if (this.#lastFullGcAt >= entry.dueAt) counts.set(entry.target, (counts.get(entry.target) ?? 0) + 1);
    }
    return counts;
  }

  /** Versions being watched (retained or still within their grace period). */
  get watching(): number {
    return this.#entries.size;
  }

  stop(): void {
    if (this.#gcTimer) clearTimeout(this.#gcTimer);
    this.#gcTimer = undefined;
    this.#observer?.disconnect();
    this.#observer = undefined;
  }

  #forget(id: number): void {
    this.#entries.delete(id);
    if (this.#entries.size === 0) this.stop();
  }

  #observeGc(): void {
    if (this.#observer) return;
    try {
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
          if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
            this.#lastFullGcAt = Math.max(this.#lastFullGcAt, entry.startTime);
          }
        }
      });
      observer.observe({ entryTypes: ['gc'] });
      this.#observer = observer;
    } catch {
      diagOnce('gc-observer', 'warn', 'cannot observe GC events; hotreload.retained_versions counts only after gc() when --expose-gc is set');
    }
  }

  /**
   * With `gc` exposed: one full GC once the earliest pending grace period has passed, spaced at
   * least a grace period (and a second) from the previous one. Without the spacing, a target
   * reloading every 100 ms would get a full GC every 100 ms.
   */
  #scheduleGc(): void {
    const gc = exposedGc();
    if (this.#gcTimer || !gc) return;
    const now = performance.now();
    let due = Number.POSITIVE_INFINITY;
    for (const ref of this.#entries.values()) {
      const entry = ref.deref();
      if (entry && entry.dueAt > this.#lastFullGcAt) due = Math.min(due, entry.dueAt);
    }
    if (due === Number.POSITIVE_INFINITY) return;
    due = Math.max(due, this.#lastForcedGcAt + Math.max(this.#graceMs, MIN_FORCED_GC_SPACING_MS));
    this.#gcTimer = setTimeout(
      () => {
        this.#gcTimer = undefined;
        const startedAt = performance.now();
        this.#lastForcedGcAt = startedAt;
        // A timer callback, outside any caller's try: a `gc` that is not V8's and throws must not
        // end the process. The next attempt keeps the spacing below.
        try {
          gc();
          this.#lastFullGcAt = Math.max(this.#lastFullGcAt, startedAt);
        } catch (err) {
          diagOnce('gc-threw', 'warn', `globalThis.gc threw (${errorType(err)}); retained versions count after V8's own full GCs only`);
        }
        this.#scheduleGc();
      },
      Math.max(0, Math.ceil(due - now)),
    );
    this.#gcTimer.unref();
  }
}
