/**
 * Worst event-loop delay seen while a span of work (a reload stage) is open.
 *
 * An unref'ed interval timer runs ONLY while at least one stage is open, so a service that is not
 * reloading pays nothing. Each tick measures how late it fired; each open stage keeps the worst
 * lateness seen since it began. When a stage ends, the lateness of the tick that is due but has
 * not run yet is counted too: a stage that blocks the loop synchronously ends before any tick can
 * observe the block. perf_hooks.monitorEventLoopDelay() is not used because its histogram is
 * process-global (one reset per stage would break overlapping stages of different targets) and it
 * only records a block when its own timer finally fires, after the stage has ended.
 */
export class EventLoopMonitor {
  readonly #resolutionMs: number;
  readonly #open = new Map<number, { startedAt: number; worstMs: number }>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastTick = 0;

  constructor(resolutionMs = 10) {
    if (!(Number.isFinite(resolutionMs) && resolutionMs >= 1)) {
      throw new TypeError('EventLoopMonitor: resolutionMs must be a number >= 1');
    }
    this.#resolutionMs = resolutionMs;
  }

  /** Whether the sampling timer is running (only while some stage is open). */
  get sampling(): boolean {
    return this.#timer !== undefined;
  }

  begin(key: number): void {
    const now = performance.now();
    if (!this.#timer) {
      this.#lastTick = now;
      this.#timer = setInterval(() => this.#tick(), this.#resolutionMs);
      this.#timer.unref();
    }
    this.#open.set(key, { startedAt: now, worstMs: 0 });
  }

  /** Close a span of work; returns its worst loop delay in seconds (undefined if never begun). */
  end(key: number): number | undefined {
    const entry = this.#open.get(key);
    if (!entry) return undefined;
    this.#open.delete(key);
    const now = performance.now();
    const pending = Math.min(now - this.#lastTick - this.#resolutionMs, now - entry.startedAt);
    const worst = Math.max(entry.worstMs, pending, 0);
    if (this.#open.size === 0) this.stop();
    return worst / 1000;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#open.clear();
  }

  #tick(): void {
    const now = performance.now();
    const lateMs = now - this.#lastTick - this.#resolutionMs;
    this.#lastTick = now;
    if (lateMs <= 0) return;
    for (const entry of this.#open.values()) {
      const withinStage = Math.min(lateMs, now - entry.startedAt);
      if (withinStage > entry.worstMs) entry.worstMs = withinStage;
    }
  }
}
