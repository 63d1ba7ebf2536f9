import { type BatchObservableResult, context, diag } from '@opentelemetry/api';
import { InstrumentationBase } from '@opentelemetry/instrumentation';
import { METRICS } from './catalogue.ts';
import { errorType } from './errors.ts';
import { defaultIdentity } from './hash.ts';
import { hashToGauge } from './hash.ts';
import { createInstruments, type InstrumentFor } from './instruments.ts';
import { ReloadRun, type RunHost } from './run.ts';
import {
  ATTR_CONFIG_HASH,
  ATTR_CONFIG_VERSION,
  ATTR_ERROR_TYPE,
  ERROR_TYPE_ROLLBACK_FAILED,
  type ReloadOutcome,
  type ReloadStage,
  type ReloadTrigger,
  type StageOutcome,
  TRIGGERS,
} from './semconv.ts';
import { type QueuedRequest, TargetState } from './target-state.ts';
import type {
  ActiveVersion,
  ErrorMessagePolicy,
  ReloadInstrumentationConfig,
  ReloadObserver,
  ReloadOptions,
  ReloadResult,
  ReloadStages,
  RunInfo,
  VersionIdentity,
} from './types.ts';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.ts';

const CORE_METRICS = {
  reloads: METRICS.reloads,
  duration: METRICS.duration,
  stageDuration: METRICS.stageDuration,
  configHash: METRICS.configHash,
  configInfo: METRICS.configInfo,
  lastSuccessTimestamp: METRICS.lastSuccessTimestamp,
  lastReloadSuccess: METRICS.lastReloadSuccess,
  consecutiveFailures: METRICS.consecutiveFailures,
  inProgress: METRICS.inProgress,
  pending: METRICS.pending,
  generation: METRICS.generation,
  candidateHash: METRICS.candidateHash,
  candidateInfo: METRICS.candidateInfo,
  tlsNotAfter: METRICS.tlsNotAfter,
};
type CoreInstruments = { [K in keyof typeof CORE_METRICS]: InstrumentFor<(typeof CORE_METRICS)[K]> };

const DEFAULT_TIMEOUT_MS = 30_000;
const TRIGGER_SET: ReadonlySet<string> = new Set(TRIGGERS);

/**
 * The reload instrument: turns each reload into one trace (root `hotreload` + a span per stage)
 * and the reload metrics of the catalogue. Register it like any OpenTelemetry instrumentation.
 */
export class ReloadInstrumentation extends InstrumentationBase<ReloadInstrumentationConfig> {
  // `declare` fields: InstrumentationBase's constructor calls _updateMetricInstruments() before
  // subclass initialisers run, so initialised fields would overwrite what it created.
  declare private _instruments: CoreInstruments | undefined;
  declare private _targetMap: Map<string, TargetState> | undefined;
  declare private _observerList: ReloadObserver[] | undefined;
  declare private _brokenObservers: WeakSet<ReloadObserver> | undefined;
  declare private _host: RunHost | undefined;

  constructor(config: ReloadInstrumentationConfig = {}) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
  }

  protected override init(): void {
    // Nothing to patch: reloads are reported through the API, not by wrapping modules.
  }

  protected override _updateMetricInstruments(): void {
    const instruments = createInstruments(this.meter, CORE_METRICS);
    this._instruments = instruments;
    this.meter.addBatchObservableCallback(
      (result) => this._observeGauges(result, instruments),
      [
        instruments.reloads,
        instruments.inProgress,
        instruments.pending,
        instruments.configHash,
        instruments.configInfo,
        instruments.lastSuccessTimestamp,
        instruments.lastReloadSuccess,
        instruments.consecutiveFailures,
        instruments.generation,
        instruments.candidateHash,
        instruments.candidateInfo,
        instruments.tlsNotAfter,
      ],
    );
  }

  /**
   * Run a reload: load → verify → switch → unload, timed, traced, with a deadline and rollback.
   * Never throws for a failed reload (the result's outcome says what happened); throws
   * TypeError only for invalid arguments. Runs per target are serialised; requests that arrive
   * meanwhile are coalesced into one follow-up run that uses the last request's stages.
   */
  reload<C, P = unknown>(options: ReloadOptions, stages: ReloadStages<C, P>): Promise<ReloadResult> {
    validateOptions(options);
    if (typeof stages !== 'object' || stages === null) throw new TypeError('reload(options, stages): stages must be an object');
    if (typeof stages.load !== 'function') throw new TypeError('reload(): stages.load must be a function');
    if (typeof stages.switch !== 'function') throw new TypeError('reload(): stages.switch must be a function');
    for (const k of ['verify', 'unload', 'rollback', 'identify'] as const) {
      if (stages[k] !== undefined && typeof stages[k] !== 'function') throw new TypeError(`reload(): stages.${k} must be a function`);
    }
    const state = this._state(options.target);
    if (state.busy) return this._enqueue(state, options, stages);
    return this._execute(state, options, stages, 0);
  }

  /** Start a run by hand around existing reload code (the low-level API). */
  start(options: ReloadOptions): ReloadRun {
    validateOptions(options);
    return this._startRun(this._state(options.target), options, 0);
  }

  /** Subscribe an add-on to run events; returns the unsubscribe function. */
  addObserver(observer: ReloadObserver): () => void {
    const list = this._observers();
    list.push(observer);
    return () => {
      const i = list.indexOf(observer);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /**
   * Make a target's series exist (at 0) before its first reload, for each trigger it will use,
   * so `increase()` counts the first reload of every kind.
   */
  declareTarget(target: string, triggers: ReloadTrigger | readonly ReloadTrigger[] = 'startup'): void {
    validateOptions({ target });
    const state = this._state(target);
    for (const trigger of typeof triggers === 'string' ? [triggers] : triggers) state.noteTrigger(normaliseTrigger(trigger));
  }

  getActive(target: string): ActiveVersion | undefined {
    return this._targets().get(target)?.snapshot();
  }

  activeVersions(): ActiveVersion[] {
    return [...this._targets().values()].map((s) => s.snapshot());
  }

  // ---------------------------------------------------------------- internals

  _targets(): Map<string, TargetState> {
    this._targetMap ??= new Map();
    return this._targetMap;
  }

  _observers(): ReloadObserver[] {
    this._observerList ??= [];
    return this._observerList;
  }

  _state(target: string): TargetState {
    const map = this._targets();
    let state = map.get(target);
    if (!state) {
      state = new TargetState(target);
      map.set(target, state);
    }
    return state;
  }

  _runHost(): RunHost {
    if (this._host) return this._host;
    const self = this;
    this._host = {
      get tracer() {
        return self.tracer;
      },
      get recording() {
        return self.isEnabled();
      },
      get errorMessages(): ErrorMessagePolicy {
        return self.getConfig().errorMessages ?? 'safe';
      },
      recordStage(state: TargetState, stage: ReloadStage, outcome: StageOutcome, seconds: number) {
        if (self.isEnabled()) self._instruments?.stageDuration.record(seconds, state.stageAttributes(stage, outcome));
      },
      runStarted(state: TargetState, trigger: ReloadTrigger) {
        // Counts and in-progress are state read at collection time (observed instruments), so a
        // run records only its histogram points.
        state.noteTrigger(trigger);
        state.inProgress += 1;
      },
      runFinished(state: TargetState, trigger: ReloadTrigger, outcome: ReloadOutcome, seconds: number) {
        state.inProgress -= 1;
        if (!self.isEnabled()) return;
        state.countRun(trigger, outcome);
        self._instruments?.duration.record(seconds, state.outcomeAttributes(outcome));
      },
      notify(hook: keyof ReloadObserver, run: RunInfo, a?: unknown, b?: unknown, c?: unknown) {
        const observers = self._observers();
        if (observers.length === 0) return;
        for (const observer of observers) {
          const fn = observer[hook] as ((run: RunInfo, a: unknown, b: unknown, c: unknown) => void) | undefined;
          if (!fn) continue;
          try {
            fn.call(observer, run, a, b, c);
          } catch (err) {
            self._brokenObservers ??= new WeakSet();
            const broken = self._brokenObservers;
            if (!broken.has(observer)) {
              broken.add(observer);
              diag.warn(`reloadscope: an observer's ${hook} threw (${errorType(err)}); reloads are unaffected`);
            }
          }
        }
      },
    };
    return this._host;
  }

  _startRun(state: TargetState, options: ReloadOptions, coalesced: number, timeoutMs = options.timeoutMs): ReloadRun {
    return new ReloadRun(this._runHost(), state, {
      trigger: normaliseTrigger(options.trigger),
      timeoutMs,
      parent: options.context ?? context.active(),
      coalesced,
    });
  }

  private _enqueue<C, P>(state: TargetState, options: ReloadOptions, stages: ReloadStages<C, P>): Promise<ReloadResult> {
    return new Promise((resolve) => {
      state.queued ??= { options, stages, count: 0, resolvers: [] };
      const q: QueuedRequest = state.queued;
      q.options = options; // last request wins
      q.stages = stages;
      q.count += 1;
      q.resolvers.push(resolve);
    });
  }

  private _execute<C, P>(state: TargetState, options: ReloadOptions, stages: ReloadStages<C, P>, coalesced: number): Promise<ReloadResult> {
    state.busy = true;
    const done = this._runStages(state, options, stages, coalesced);
    void done.then(() => this._next(state));
    return done;
  }

  _next(state: TargetState): void {
    const q = state.queued;
    if (!q) {
      state.busy = false;
      return;
    }
    state.queued = undefined;
    void this._execute(state, q.options, q.stages, q.count).then((r) => {
      for (const resolve of q.resolvers) resolve(r);
    });
  }

  /** The structured form. Never rejects: every failure becomes an outcome. */
  private async _runStages<C, P>(state: TargetState, options: ReloadOptions, stages: ReloadStages<C, P>, coalesced: number): Promise<ReloadResult> {
    const run = this._startRun(state, options, coalesced, options.timeoutMs ?? this.getConfig().defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS);
    try {
      let candidate: C;
      let identity: VersionIdentity | undefined;
      try {
        candidate = await run.stage('load', (ctx) => stages.load(ctx));
        identity = stages.identify ? stages.identify(candidate) : defaultIdentity(candidate);
      } catch (err) {
        return run.fail(err);
      }
      if (identity) run.candidate(identity);
      if (!options.force && !state.uncertain && identity && state.hash !== undefined && identity.hash === state.hash) {
        return run.end('unchanged');
      }
      if (stages.verify) {
        const verify = stages.verify;
        try {
          await run.stage('verify', (ctx) => verify(candidate, ctx));
        } catch (err) {
          return run.fail(err);
        }
      }
      let rawSwitch: Promise<P> | undefined;
      let previous: P;
      try {
        previous = await run.stage('switch', (ctx) => {
          const value = stages.switch(candidate, ctx);
          if (value instanceof Promise) rawSwitch = value;
          return value;
        });
      } catch (err) {
        if (run.deadlinePassed && rawSwitch && stages.rollback) {
          // The switch may still complete after the deadline: undo it when it does.
          const rollback = stages.rollback;
          rawSwitch.then(
            (late) =>
              Promise.resolve(rollback(late, lateContext(run))).catch(() => {
                state.uncertain = true; // the late switch stays in effect: what runs is not what is reported
              }),
            () => {},
          );
        }
        return this._rollback(run, stages, undefined, err, false);
      }
      if (stages.unload) {
        const unload = stages.unload;
        try {
          await run.stage('unload', (ctx) => unload(previous, ctx));
        } catch (err) {
          return this._rollback(run, stages, previous, err, true);
        }
      }
      if (previous !== undefined) run.unloaded(previous);
      return run.end('success');
    } catch (err) {
      // Only reached if reloadscope itself misbehaves; the reload still gets an outcome.
      return run.fail(err);
    }
  }

  /**
   * A stage at or after the switch failed. With a rollback, undo and report `rollback` (or
   * `timeout`); a throwing rollback is `failure` with error.type rollback_failed. Without one,
   * a failed switch is assumed not to have taken effect, a failed unload to have.
   */
  private async _rollback<C, P>(run: ReloadRun, stages: ReloadStages<C, P>, previous: P | undefined, cause: unknown, switched: boolean): Promise<ReloadResult> {
    const timedOut = run.deadlinePassed;
    if (!stages.rollback) {
      return run.finish({ outcome: timedOut ? 'timeout' : 'failure', error: cause, activate: switched });
    }
    const rollback = stages.rollback;
    try {
      await run.stage('rollback', (ctx) => rollback(previous, ctx));
    } catch {
      return run.finish({ outcome: 'failure', error: cause, errorType: ERROR_TYPE_ROLLBACK_FAILED, activate: false });
    }
    return run.finish({ outcome: timedOut ? 'timeout' : 'rollback', error: cause, activate: false });
  }

  _observeGauges(result: BatchObservableResult, inst: CoreInstruments): void {
    for (const state of this._targets().values()) {
      const attrs = state.targetAttributes;
      for (const [trigger, counts] of state.reloadCounts) {
        const attributes = state.countAttributes(trigger);
        for (let i = 0; i < counts.length; i++) result.observe(inst.reloads, counts[i]!, attributes[i]);
      }
      result.observe(inst.inProgress, state.inProgress, attrs);
      result.observe(inst.pending, state.queued?.count ?? 0, attrs);
      result.observe(inst.generation, state.generation, attrs);
      result.observe(inst.consecutiveFailures, state.consecutiveFailures, attrs);
      if (state.hash !== undefined) {
        result.observe(inst.configHash, hashToGauge(state.hash), attrs);
        result.observe(inst.configInfo, 1, {
          ...attrs,
          [ATTR_CONFIG_HASH]: state.hash,
          [ATTR_CONFIG_VERSION]: state.version ?? '',
        });
      }
      if (state.lastReloadSucceeded !== undefined) {
        result.observe(inst.lastReloadSuccess, state.lastReloadSucceeded ? 1 : 0, attrs);
      }
      if (state.lastSuccessEpochMs !== undefined) {
        result.observe(inst.lastSuccessTimestamp, state.lastSuccessEpochMs / 1000, attrs);
      }
      if (state.candidateHash !== undefined) {
        result.observe(inst.candidateHash, hashToGauge(state.candidateHash), attrs);
        result.observe(inst.candidateInfo, 1, {
          ...attrs,
          [ATTR_CONFIG_HASH]: state.candidateHash,
          [ATTR_ERROR_TYPE]: state.candidateError ?? '',
        });
      }
      if (state.notAfter !== undefined) result.observe(inst.tlsNotAfter, state.notAfter / 1000, attrs);
    }
  }
}

function validateOptions(options: Partial<ReloadOptions> | undefined): asserts options is ReloadOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('reloadscope: options must be an object');
  if (typeof options.target !== 'string' || options.target.length === 0 || options.target.length > 128) {
    throw new TypeError('reloadscope: options.target must be a non-empty string of at most 128 characters');
  }
  if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
    throw new TypeError('reloadscope: options.timeoutMs must be a positive number of milliseconds');
  }
}

function normaliseTrigger(trigger: string | undefined): ReloadTrigger {
  if (trigger === undefined) return 'api';
  return (TRIGGER_SET.has(trigger) ? trigger : 'other') as ReloadTrigger;
}

function lateContext(run: ReloadRun) {
  return { signal: new AbortController().signal, target: run.info.target, trigger: run.info.trigger, stage: 'rollback' as const, span: run.span };
}
