import { SlotList } from './slot-list.ts';

/** One span of work being watched; the caller may reuse it for consecutive spans. */
export interface LoopSpan {
  startedAt: number;
  worstMs: number;
}

/**
 * Worst event-loop delay seen while a span of work (a reload stage) is open.
 *
 * An unref'ed interval timer samples how late it fires; each open stage keeps the worst lateness
 * seen since it began. When a stage ends, the lateness of the tick that is due but has not run yet
 * is counted too: a stage that blocks the loop synchronously ends before any tick can observe the
 * block. perf_hooks.monitorEventLoopDelay() is not used because its histogram is process-global
 * (one reset per stage would break overlapping stages of different targets) and it only records a
 * block when its own timer finally fires, after the stage has ended.
 *
 * The timer is armed by the first stage to begin and disarms itself at the first tick that finds
 * no stage open. Arming and clearing a timer per stage was the largest part of the probes' cost
 * (four stages back to back all run within one turn of the loop); this way a burst of reloads
 * shares one timer, and an idle service has none — at most one tick after its last stage.
 */
export class EventLoopMonitor {
  readonly #resolutionMs: number;
  /**
   * The open spans. A list, not a Set: rarely more than a few stages are open at once, and a
   * short scan is cheaper than hashing the span into a Set twice per stage.
   */
  readonly #open = new SlotList<LoopSpan>();
  readonly #byKey = new Map<number, LoopSpan>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastTick = 0;

  constructor(resolutionMs = 10) {
    if (!(Number.isFinite(resolutionMs) && resolutionMs >= 1)) {
      throw new TypeError('EventLoopMonitor: resolutionMs must be a number >= 1');
    }
    this.#resolutionMs = resolutionMs;
  }

  /** Whether the sampling timer is armed (while some stage is open, and until the next tick after). */
  get sampling(): boolean {
    return this.#timer !== undefined;
  }

  begin(key: number): void {
    const span = { startedAt: 0, worstMs: 0 };
    this.#byKey.set(key, span);
    this.open(span);
  }

  /** Close a span of work; returns its worst loop delay in seconds (undefined if never begun). */
  end(key: number): number | undefined {
    const span = this.#byKey.get(key);
    if (!span) return undefined;
    this.#byKey.delete(key);
    return this.close(span);
  }

  /**
   * Start watching `span` (resetting it): the allocation-free form of begin(). `startedAt`, when
   * the caller has just read the clock (core's stage start), saves a clock read; anything but a
   * finite number >= 0 falls back to reading it.
   */
  open(span: LoopSpan, startedAt?: number): void {
    const now = isReading(startedAt) ? startedAt : performance.now();
    if (!this.#timer) {
      this.#lastTick = now;
      this.#timer = setInterval(() => this.#tick(), this.#resolutionMs);
      this.#timer.unref();
    }
    span.startedAt = now;
    span.worstMs = 0;
    if (!this.#open.includes(span)) this.#open.add(span);
  }

  /**
   * Stop watching `span`; its worst loop delay in seconds, undefined if it was not open.
   * `elapsedMs`, when the caller has just measured how long the span lasted (core's stage
   * duration), stands in for a second clock read: the span then ended at `startedAt + elapsedMs`.
   * No tick can run between that measurement and this call (both are in one synchronous stretch),
   * so the estimate only lacks the microseconds in between. Anything but a finite number >= 0
   * falls back to reading the clock.
   */
  close(span: LoopSpan, elapsedMs?: number): number | undefined {
    if (!this.#open.remove(span)) return undefined;
    const now = isReading(elapsedMs) ? span.startedAt + elapsedMs : performance.now();
    const pending = Math.min(now - this.#lastTick - this.#resolutionMs, now - span.startedAt);
    return Math.max(span.worstMs, pending, 0) / 1000;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#open.clear();
    this.#byKey.clear();
  }

  #tick(): void {
    if (this.#open.length === 0) {
      this.stop();
      return;
    }
    const now = performance.now();
    const lateMs = now - this.#lastTick - this.#resolutionMs;
    this.#lastTick = now;
    if (lateMs <= 0) return;
    const { items, length } = this.#open;
    for (let i = 0; i < length; i++) {
      const entry = items[i]!;
      const withinStage = Math.min(lateMs, now - entry.startedAt);
      if (withinStage > entry.worstMs) entry.worstMs = withinStage;
    }
  }
}

/** A usable `performance.now()` value handed in by a caller. */
function isReading(ms: number | undefined): ms is number {
  return typeof ms === 'number' && ms >= 0 && ms < Number.POSITIVE_INFINITY;
}
