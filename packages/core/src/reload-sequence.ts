import { diag } from '@opentelemetry/api';
import { errorType } from './errors.ts';
import { defaultIdentity } from './hash.ts';
import type { ReloadRun, StageContinuation } from './run.ts';
import { ERROR_TYPE_ROLLBACK_FAILED, type ReloadStage } from './semconv.ts';
import type { TargetState } from './target-state.ts';
import type { ReloadOptions, ReloadResult, ReloadStages, StageContext, VersionIdentity } from './types.ts';

/**
 * reload()'s stages of one run: load → verify → switch → unload, or rollback, as a sequence of
 * continuations rather than an async function. Each stage hands its outcome to resume(), which
 * starts the next one: no promise of our own per stage and no async resume between stages,
 * which were most of what a fast reload cost beyond its spans and metrics. The deadline still
 * releases a hung stage (it resumes the sequence with the timeout), and `done` is called exactly
 * once with the run's result, whatever throws on the way.
 */
export class ReloadSequence<C, P> implements StageContinuation {
  readonly #run: ReloadRun;
  readonly #state: TargetState;
  readonly #options: ReloadOptions;
  readonly #stages: ReloadStages<C, P>;
  /** Called once: with the run's result, or (reloadscope broken twice over) the error. */
  readonly #done: (result: ReloadResult | undefined, error?: unknown) => void;
  #ended = false;
  #candidate: C | undefined;
  #previous: P | undefined;
  /** The switch's own promise, to undo a switch that completes after the deadline. */
  #rawSwitch: Promise<P> | undefined;
  /** Set when a rollback starts: why, and whether the deadline had passed by then. */
  #cause: unknown;
  #timedOut = false;

  constructor(run: ReloadRun, state: TargetState, options: ReloadOptions, stages: ReloadStages<C, P>, done: (result: ReloadResult | undefined, error?: unknown) => void) {
    this.#run = run;
    this.#state = state;
    this.#options = options;
    this.#stages = stages;
    this.#done = done;
  }

  start(): void {
    try {
      const stages = this.#stages;
      this.#run.stageThen('load', (ctx) => stages.load(ctx), this);
    } catch (err) {
      this.#broken(err);
    }
  }

  resume(stage: ReloadStage, ok: boolean, value: unknown): void {
    try {
      switch (stage) {
        case 'load':
          if (ok) this.#loaded(value as C);
          else this.#finish(this.#run.fail(value));
          return;
        case 'verify':
          if (ok) this.#switch();
          else this.#finish(this.#run.fail(value));
          return;
        case 'switch':
          if (ok) this.#switched(value as P);
          else this.#switchFailed(value);
          return;
        case 'unload':
          if (ok) this.#succeed();
          else this.#rollback(this.#previous, value, true);
          return;
        case 'rollback':
          this.#finish(
            ok
              ? this.#run.finish({ outcome: this.#timedOut ? 'timeout' : 'rollback', error: this.#cause, activate: false })
              : this.#run.finish({ outcome: 'failure', error: this.#cause, errorType: ERROR_TYPE_ROLLBACK_FAILED, activate: false }),
          );
          return;
      }
    } catch (err) {
      this.#broken(err);
    }
  }

  #loaded(candidate: C): void {
    const run = this.#run;
    const stages = this.#stages;
    this.#candidate = candidate;
    let identity: VersionIdentity | undefined;
    try {
      identity = stages.identify ? stages.identify(candidate) : defaultIdentity(candidate);
      if (identity) identity = run.candidate(identity);
    } catch (err) {
      this.#finish(run.fail(err));
      return;
    }
    const state = this.#state;
    if (!this.#options.force && !state.uncertain && identity && state.hash !== undefined && identity.hash === state.hash) {
      this.#finish(run.end('unchanged'));
      return;
    }
    const verify = stages.verify;
    if (verify) run.stageThen('verify', (ctx) => verify(candidate, ctx), this);
    else this.#switch();
  }

  #switch(): void {
    const stages = this.#stages;
    const candidate = this.#candidate as C;
    this.#run.stageThen(
      'switch',
      (ctx) => {
        const value = stages.switch(candidate, ctx);
        if (value instanceof Promise) this.#rawSwitch = value;
        return value;
      },
      this,
    );
  }

  #switched(previous: P): void {
    this.#previous = previous;
    const unload = this.#stages.unload;
    if (unload) this.#run.stageThen('unload', (ctx) => unload(previous, ctx), this);
    else this.#succeed();
  }

  #switchFailed(err: unknown): void {
    const rollback = this.#stages.rollback;
    if (this.#run.deadlinePassed && this.#rawSwitch && rollback) void undoLateSwitch(this.#run, this.#state, this.#rawSwitch, rollback);
    this.#rollback(undefined, err, false);
  }

  #succeed(): void {
    if (this.#previous !== undefined) this.#run.unloaded(this.#previous);
    this.#finish(this.#run.end('success'));
  }

  /**
   * A stage at or after the switch failed. With a rollback, undo and report `rollback` (or
   * `timeout`); a throwing rollback is `failure` with error.type rollback_failed. Without one,
   * a failed switch is assumed not to have taken effect, a failed unload to have.
   */
  #rollback(previous: P | undefined, cause: unknown, switched: boolean): void {
    const run = this.#run;
    const timedOut = run.deadlinePassed;
    const rollback = this.#stages.rollback;
    if (!rollback) {
      this.#finish(run.finish({ outcome: timedOut ? 'timeout' : 'failure', error: cause, activate: switched }));
      return;
    }
    this.#cause = cause;
    this.#timedOut = timedOut;
    run.stageThen('rollback', (ctx) => rollback(previous, ctx), this);
  }

  #finish(result: ReloadResult): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#done(result);
  }

  /** Only reached if reloadscope itself misbehaves; the reload still gets an outcome. */
  #broken(err: unknown): void {
    try {
      this.#finish(this.#run.fail(err));
    } catch (again) {
      if (this.#ended) return;
      this.#ended = true;
      diag.error(`reloadscope: ending a run failed (${errorType(again)}); its reload() rejects`);
      this.#done(undefined, again);
    }
  }
}

/** A switch that took effect after its deadline is undone, so what runs is what is reported. */
async function undoLateSwitch<P>(run: ReloadRun, state: TargetState, rawSwitch: Promise<P>, rollback: NonNullable<ReloadStages<unknown, P>['rollback']>): Promise<void> {
  let late: P;
  try {
    late = await rawSwitch;
  } catch {
    return;
  }
  try {
    await rollback(late, lateContext(run));
  } catch {
    state.uncertain = true; // the late switch stays in effect: what runs is not what is reported
  }
}

function lateContext(run: ReloadRun): StageContext {
  return {
    signal: new AbortController().signal,
    target: run.info.target,
    trigger: run.info.trigger,
    stage: 'rollback',
    span: run.span,
    // The run has already ended: a candidate named this late would describe nothing.
    candidate: () => {},
  };
}
