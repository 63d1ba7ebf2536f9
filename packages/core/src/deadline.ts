import { types } from 'node:util';
import { MAX_TIMER_MS } from './options.ts';

/**
 * A run's (or a rollback's) deadline. The AbortSignal is created on first use: most stages never
 * read it, and an AbortController plus its listener was a visible share of a fast reload. Stage
 * awaits are released through the waiters instead, so a stage that ignores its signal cannot
 * hold the run. The timing is the shared clock's (below): a deadline owns no timer.
 */
export class Deadline {
  /** performance.now() at which it passes. */
  readonly at: number;
  readonly #reasonAt: () => unknown;
  /** Stages not in the slot (thenables, concurrent low-level stages); made on first use, as most runs have none. */
  #waiters: Set<(reason: unknown) => void> | undefined;
  /** The waiting stage of a run's sequence (see watch()). */
  #slot: Watcher | undefined;
  readonly #slotResolved = (v: unknown) => {
    const slot = this.#slot;
    this.#slot = undefined;
    slot?.settled(true, v);
  };
  readonly #slotRejected = (e: unknown) => {
    const slot = this.#slot;
    this.#slot = undefined;
    slot?.settled(false, e);
  };
  #controller: AbortController | undefined;
  #passed = false;
  #reason: unknown;

  constructor(ms: number, reasonAt: () => unknown) {
    this.#reasonAt = reasonAt;
    this.at = performance.now() + ms;
    clock.add(this);
  }

  get passed(): boolean {
    return this.#passed;
  }

  get reason(): unknown {
    return this.#reason;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#passed) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /**
   * Tell `watcher` how `value` settled, or the deadline's reason if the deadline passes first,
   * so a stage that never settles cannot hold the run. Called once, whichever comes first; the
   * other is ignored. `watcher.settled` must not throw: it runs in promise callbacks and timers.
   */
  watch(value: PromiseLike<unknown>, watcher: Watcher): void {
    // reload() runs its stages one after another: the one waiting stage takes the slot, served
    // by callbacks made once per deadline. Only for a native promise, which calls back exactly
    // once: a thenable calling again later would settle the next stage. Concurrent stages (the
    // low-level API) and thenables get callbacks of their own.
    if (this.#slot === undefined && isNativePromise(value)) {
      this.#slot = watcher;
      value.then(this.#slotResolved, this.#slotRejected);
      return;
    }
    this.#waiters ??= new Set();
    const waiters = this.#waiters;
    let done = false;
    const once = (ok: boolean, v: unknown) => {
      if (done) return;
      done = true;
      waiters.delete(expired);
      watcher.settled(ok, v);
    };
    const expired = (reason: unknown) => once(false, reason);
    waiters.add(expired);
    try {
      value.then(
        (v) => once(true, v),
        (e: unknown) => once(false, e),
      );
    } catch (err) {
      // A thenable whose then() throws fails the stage, as `await` would have.
      once(false, err);
    }
  }

  /** watch() as the promise a caller awaits: `settler` turns the outcome into its value or error. */
  settle<R>(value: PromiseLike<unknown>, settler: Settler<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => this.watch(value, new PromiseWatcher(settler, resolve, reject)));
  }

  /** The run no longer needs it (ended, or the rollback it timed is over). */
  dispose(): void {
    clock.remove(this);
  }

  /** @internal the clock's call, once, when `at` has come. */
  expire(): void {
    this.#passed = true;
    this.#reason = this.#reasonAt();
    this.#controller?.abort(this.#reason);
    const slot = this.#slot;
    this.#slot = undefined;
    slot?.settled(false, this.#reason);
    if (this.#waiters) for (const expired of this.#waiters) expired(this.#reason);
  }
}

/** Told once how a watched stage settled (see Deadline.watch). */
export interface Watcher {
  settled(ok: boolean, v: unknown): void;
}

/** Turns a stage's outcome into the value (or the error) its caller gets. */
export interface Settler<R> {
  fulfilled(value: unknown): R;
  rejected(reason: unknown): R;
}

/** Settles a caller's promise with what its settler makes of the outcome (a throw rejects it). */
class PromiseWatcher<R> implements Watcher {
  readonly #settler: Settler<R>;
  readonly #resolve: (value: R) => void;
  readonly #reject: (reason: unknown) => void;

  constructor(settler: Settler<R>, resolve: (value: R) => void, reject: (reason: unknown) => void) {
    this.#settler = settler;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  settled(ok: boolean, v: unknown): void {
    try {
      this.#resolve(ok ? this.#settler.fulfilled(v) : this.#settler.rejected(v));
    } catch (err) {
      this.#reject(err);
    }
  }
}

/**
 * Every pending deadline of the process shares one timer, armed for the earliest. A setTimeout
 * and a clearTimeout per run (a Timeout, its async resource and a timer list built and torn down
 * each time) was a visible share of a fast reload; a run now only joins and leaves a set.
 *
 * Leaving does not touch the timer: it fires when it was due, finds nothing due (deadlines of one
 * instrumentation all have the same length, so the next one is later) and re-arms for the
 * earliest still pending, or stops. Only an earlier deadline re-arms it at once. It is ref'ed
 * while any deadline is pending, so a run in progress keeps the process alive until its deadline
 * (as a timer per run did), and unref'ed while none is: a timer left armed after the last reload
 * never keeps the process alive.
 */
class DeadlineClock {
  readonly #pending = new Set<Deadline>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer fires: Infinity exactly when there is no timer. */
  #armedFor = Number.POSITIVE_INFINITY;
  readonly #fire = () => this.#tick();

  /** Deadlines not yet passed nor disposed (for tests). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Whether the shared timer exists and holds the process open (for tests). */
  get holding(): boolean {
    return this.#timer?.hasRef() ?? false;
  }

  add(deadline: Deadline): void {
    this.#pending.add(deadline);
    if (deadline.at < this.#armedFor) this.#arm(deadline.at);
    else if (this.#pending.size === 1) this.#timer?.ref();
  }

  remove(deadline: Deadline): void {
    if (this.#pending.delete(deadline) && this.#pending.size === 0) this.#timer?.unref();
  }

  #arm(at: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#armedFor = at;
    this.#timer = setTimeout(this.#fire, Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(at - performance.now()))));
    if (this.#pending.size === 0) this.#timer.unref();
  }

  #tick(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    // Timers fire on the loop's millisecond clock, which may lag performance.now() by up to a
    // millisecond: a deadline within that is due now rather than worth a 1 ms re-arm.
    const now = performance.now() + 1;
    let next = Number.POSITIVE_INFINITY;
    // Deadlines added meanwhile (an abort listener starting a run) are visited too: they are not due.
    for (const deadline of this.#pending) {
      if (deadline.at > now) {
        if (deadline.at < next) next = deadline.at;
        continue;
      }
      this.#pending.delete(deadline);
      try {
        deadline.expire();
      } catch {
        // Nothing in expire() is user code that throws (abort listeners' errors are reported by
        // the EventTarget); should anything, the other deadlines must still pass.
      }
    }
    if (next < this.#armedFor) this.#arm(next);
  }
}

/** The process's one deadline clock (per thread: a worker has its own module instance). */
export const clock = new DeadlineClock();

const nativeThen = Promise.prototype.then;

/**
 * A plain native promise: no subclass, no own or patched `then`. types.isPromise() reads the
 * internal slot, so a Proxy is not one and none of its traps runs.
 */
function isNativePromise(v: unknown): v is Promise<unknown> {
  return types.isPromise(v) && Object.getPrototypeOf(v) === Promise.prototype && !Object.hasOwn(v, 'then') && Promise.prototype.then === nativeThen;
}

/** Whether `v` has a callable `then` (reading it may throw: a hostile getter). */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
