import { type BatchObservableResult, context, diag } from '@opentelemetry/api';

import { METRICS } from './catalogue.ts';
import type { CurrentGauges } from './current-series.ts';
import { ReloadError, errorType } from './errors.ts';
import { hashToGauge } from './hash.ts';
import { createInstruments, type InstrumentFor } from './instruments.ts';
import { NonPatchingInstrumentation } from './non-patching-instrumentation.ts';
import { checkBoolean, checkDurationMs, checkObject, checkOneOf, checkPositiveInteger } from './options.ts';
import { ReloadSequence } from './reload-sequence.ts';
import { ReloadRun, type RunHost } from './run.ts';
import {
  ATTR_CONFIG_HASH,
  ATTR_CONFIG_VERSION,
  ATTR_ERROR_TYPE,
  type ReloadOutcome,
  type ReloadStage,
  type ReloadTrigger,
  type StageOutcome,
  TRIGGERS,
} from './semconv.ts';
import { type QueuedRequest, TargetState } from './target-state.ts';
import { safeGet } from './thrown.ts';
import type {
  ActiveVersion,
  ErrorMessagePolicy,
  ReloadInstrumentationConfig,
  ReloadObserver,
  ReloadOptions,
  ReloadResult,
  ReloadStages,
  RunInfo,
  TargetClaim,
} from './types.ts';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.ts';

/** Core's SDK instruments; its gauges are reported by _observeCurrent (current-series.ts). */
const CORE_METRICS = {
  reloads: METRICS.reloads,
  duration: METRICS.duration,
  stageDuration: METRICS.stageDuration,
  inProgress: METRICS.inProgress,
  pending: METRICS.pending,
};
type CoreInstruments = { [K in keyof typeof CORE_METRICS]: InstrumentFor<(typeof CORE_METRICS)[K]> };

/** A run's deadline when neither the request nor the instrumentation's config names one. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Each target is some 60 exposition lines on every scrape; a hundred is already a lot of reloaders. */
export const DEFAULT_MAX_TARGETS = 100;
const MAX_TARGET_CHARS = 128;
const ERROR_MESSAGE_POLICIES = ['safe', 'all', 'none'] as const;
const TRIGGER_SET: ReadonlySet<string> = new Set(TRIGGERS);

type ObserverHook = keyof ReloadObserver;
const OBSERVER_HOOKS = ['runStarted', 'stageStarted', 'stageEnded', 'versionUnloaded', 'runEnded'] as const satisfies readonly ObserverHook[];
// Every hook of ReloadObserver must be listed: a missing one would never be called.
const _everyHookListed: Record<Exclude<ObserverHook, (typeof OBSERVER_HOOKS)[number]>, never> = {};
interface HookListener {
  observer: ReloadObserver;
  fn: (run: RunInfo, a: unknown, b: unknown, c: unknown, d: unknown) => void;
}

/**
 * The reload instrument: turns each reload into one trace (root `hotreload` + a span per stage)
 * and the reload metrics of the catalogue. Register it like any OpenTelemetry instrumentation.
 */
export class ReloadInstrumentation extends NonPatchingInstrumentation<ReloadInstrumentationConfig> {
  // `declare` fields: the base constructor calls _updateMetricInstruments() before subclass
  // initialisers run, so initialised fields would overwrite what it created.
  declare private _instruments: CoreInstruments | undefined;
  declare private _targetMap: Map<string, TargetState> | undefined;
  declare private _registrationList: Array<{ listeners: Partial<Record<ObserverHook, HookListener>> }> | undefined;
  declare private _hookLists: Record<ObserverHook, HookListener[]> | undefined;
  declare private _brokenObservers: WeakSet<ReloadObserver> | undefined;
  declare private _host: RunHost | undefined;
  declare private _claims: Map<string, { owner: string | undefined }> | undefined;
  declare private _limitReported: boolean | undefined;

  constructor(config: ReloadInstrumentationConfig = {}) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
  }

  /** Validates like the constructor: a bad option throws a TypeError naming it. */
  override setConfig(config: ReloadInstrumentationConfig = {}): void {
    checkConfig(config);
    super.setConfig(config);
  }

  protected override _updateMetricInstruments(): void {
    const instruments = createInstruments(this.meter, CORE_METRICS);
    this._instruments = instruments;
    this.meter.addBatchObservableCallback((result) => this._observeCounts(result, instruments), [
      instruments.reloads,
      instruments.inProgress,
      instruments.pending,
    ]);
  }

  /**
   * Run a reload: load → verify → switch → unload, timed, traced, with a deadline and rollback.
   * Never throws for a failed reload (the result's outcome says what happened); throws
   * TypeError only for invalid arguments. Runs per target are serialised; requests that arrive
   * meanwhile are coalesced into one follow-up run that uses the last request's stages (forced if
   * any of them asked for force), except `coalesce: false` requests, which each get a run of their own.
   */
  reload<C, P = unknown>(options: ReloadOptions, stages: ReloadStages<C, P>): Promise<ReloadResult> {
    validateOptions(options);
    if (typeof stages !== 'object' || stages === null) throw new TypeError('reload(options, stages): stages must be an object');
    // Guarded reads: a throwing getter is a bad argument (TypeError), not an escape hatch.
    if (typeof safeGet(stages, 'load') !== 'function') throw new TypeError('reload(): stages.load must be a function');
    if (typeof safeGet(stages, 'switch') !== 'function') throw new TypeError('reload(): stages.switch must be a function');
    for (const k of ['verify', 'unload', 'rollback', 'identify'] as const) {
      const fn = safeGet(stages, k);
      if (fn !== undefined && typeof fn !== 'function') throw new TypeError(`reload(): stages.${k} must be a function`);
    }
    const state = this._targets().get(options.target) ?? this._admit(options.target);
    // Refusing a new target is a failed reload, not a bad argument: resolve, never throw.
    if (state instanceof ReloadError) return Promise.resolve(refusedResult(options, state));
    if (state.busy) return this._enqueue(state, options, stages);
    return this._execute(state, options, stages, 0);
  }

  /**
   * Start a run by hand around existing reload code (the low-level API). Throws a TypeError for
   * invalid options and a `target_limit` ReloadError for a new target beyond `maxTargets`.
   */
  start(options: ReloadOptions): ReloadRun {
    validateOptions(options);
    return this._startRun(this._state(options.target), options, 0);
  }

  /**
   * Hold a target name for a long-lived reloader (watchConfig does, for its lifetime), so two of
   * them cannot share one target state by accident — one's change would be skipped as
   * `unchanged` or coalesced into the other's run. A second claim of a held name throws a
   * `target_in_use` ReloadError; `release()` frees it. Plain `reload()` calls need no claim.
   * `owner` (e.g. `watchConfig(/etc/app/config.yaml)`) names the holder in that error.
   */
  claimTarget(target: string, owner?: string): TargetClaim {
    validateOptions({ target });
    if (owner !== undefined && typeof owner !== 'string') throw new TypeError('reloadscope: claimTarget owner must be a string');
    this._claims ??= new Map();
    const claims = this._claims;
    const held = claims.get(target);
    if (held) {
      const by = held.owner === undefined ? 'another reloader' : held.owner.slice(0, 256);
      throw new ReloadError(
        'target_in_use',
        `reloadscope: target ${JSON.stringify(target)} is already claimed by ${by} on this instrumentation; two reloaders on one target would skip or swallow each other's changes — give each a distinct \`target\``,
      );
    }
    this._state(target);
    const token = { owner };
    claims.set(target, token);
    return Object.freeze({
      target,
      release: () => {
        if (claims.get(target) === token) claims.delete(target);
      },
    });
  }

  /**
   * Subscribe an add-on to run events; returns the unsubscribe function. Its hooks are read once,
   * here: a hook added to the object later is not called, and a getter that throws counts as no hook.
   */
  addObserver(observer: ReloadObserver): () => void {
    if ((typeof observer !== 'object' && typeof observer !== 'function') || observer === null) {
      throw new TypeError('reloadscope: addObserver(observer): observer must be an object');
    }
    const listeners: Partial<Record<ObserverHook, HookListener>> = {};
    for (const hook of OBSERVER_HOOKS) {
      const fn = safeGet(observer, hook);
      if (typeof fn === 'function') listeners[hook] = { observer, fn: fn as HookListener['fn'] };
    }
    const registration = { listeners };
    this._registrationList ??= [];
    this._registrationList.push(registration);
    this._rebuildHooks();
    return () => {
      const list = this._registrationList ?? [];
      const i = list.indexOf(registration);
      if (i < 0) return;
      list.splice(i, 1);
      this._rebuildHooks();
    };
  }

  /**
   * Make a target's series exist (at 0) before its first reload, for each trigger it will use,
   * so `increase()` counts the first reload of every kind.
   */
  declareTarget(target: string, triggers: ReloadTrigger | readonly ReloadTrigger[] = 'startup'): void {
    validateOptions({ target });
    const list = typeof triggers === 'string' ? [triggers] : triggers;
    if (!Array.isArray(list)) throw new TypeError('reloadscope: declareTarget triggers must be a trigger or an array of triggers');
    const normalised = list.map((t) => normaliseTrigger(checkTrigger('reloadscope: declareTarget triggers[]', t)));
    const state = this._state(target);
    for (const trigger of normalised) state.noteTrigger(trigger);
  }

  /**
   * The one admission of a target, for series other packages keep per target (config's bundle
   * telemetry, say): true when the target is, or now becomes, one of this instrumentation's
   * targets; false when `maxTargets` refuses it, and then no series may carry it. A reload of the
   * target admits it the same way; nothing is declared or run here.
   */
  admitTarget(target: string): boolean {
    validateOptions({ target });
    return !(((this._targets().get(target) ?? this._admit(target)) instanceof ReloadError));
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

  /**
   * One list per hook, replaced (never mutated) on every subscribe and unsubscribe: a run calls
   * only the observers that have the hook, and one that unsubscribes while a hook is being called
   * does not make the others skip it.
   */
  _rebuildHooks(): void {
    const hooks = {} as Record<ObserverHook, HookListener[]>;
    for (const hook of OBSERVER_HOOKS) hooks[hook] = [];
    for (const { listeners } of this._registrationList ?? []) {
      for (const hook of OBSERVER_HOOKS) {
        const listener = listeners[hook];
        if (listener) hooks[hook].push(listener);
      }
    }
    this._hookLists = hooks;
  }

  /** The target's state, created if new; throws `target_limit` beyond maxTargets. */
  _state(target: string): TargetState {
    const state = this._targets().get(target) ?? this._admit(target);
    if (state instanceof ReloadError) throw state;
    return state;
  }

  /** A new target's state, or the refusal when the instrumentation already tracks maxTargets. */
  _admit(target: string): TargetState | ReloadError {
    const map = this._targets();
    const max = this.getConfig().maxTargets ?? DEFAULT_MAX_TARGETS;
    if (map.size >= max) {
      const message = `reloadscope: refused new target ${JSON.stringify(target)}: this instrumentation already tracks maxTargets=${max} targets; targets must be a small fixed set (raise maxTargets if yours is)`;
      if (!this._limitReported) {
        this._limitReported = true;
        diag.error(`${message}. Further refusals are not logged.`);
      }
      return new ReloadError('target_limit', message);
    }
    const state = new TargetState(target);
    map.set(target, state);
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
      notify(hook: ObserverHook, run: RunInfo, a?: unknown, b?: unknown, c?: unknown, d?: unknown) {
        const list = self._hookLists?.[hook];
        if (list === undefined) return;
        for (let i = 0; i < list.length; i++) {
          const { observer, fn } = list[i]!;
          try {
            fn.call(observer, run, a, b, c, d);
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
    return new Promise((resolve, reject) => {
      const joinable = options.coalesce !== false;
      // Only the last waiting run can be joined: joining an earlier one would overtake a `coalesce: false` request.
      let q: QueuedRequest | undefined = state.queue.at(-1);
      if (joinable && q?.joinable) {
        // Last request wins, but a caller who asked for force must not get `unchanged`.
        q.options = q.options.force && !options.force ? { ...options, force: true } : options;
        q.stages = stages;
      } else {
        q = { options, stages, count: 0, resolvers: [], rejecters: [], joinable };
        state.queue.push(q);
      }
      q.count += 1;
      state.pending += 1;
      q.resolvers.push(resolve);
      q.rejecters.push(reject);
    });
  }

  /**
   * Runs the target's reload now. Whatever happens (even a throw from reloadscope itself), the
   * target is freed for its queued run before the callers of this one resume.
   */
  private _execute<C, P>(state: TargetState, options: ReloadOptions, stages: ReloadStages<C, P>, coalesced: number): Promise<ReloadResult> {
    state.busy = true;
    return new Promise<ReloadResult>((resolve, reject) => {
      let run: ReloadRun;
      try {
        run = this._startRun(state, options, coalesced, options.timeoutMs ?? this.getConfig().defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS);
      } catch (err) {
        this._next(state);
        reject(err);
        return;
      }
      new ReloadSequence(run, state, options, stages, (result, error) => {
        try {
          this._next(state);
        } finally {
          if (result) resolve(result);
          else reject(error);
        }
      }).start();
    });
  }

  _next(state: TargetState): void {
    const q = state.queue.shift();
    if (!q) {
      state.busy = false;
      return;
    }
    state.pending -= q.count;
    void this._execute(state, q.options, q.stages, q.joinable ? q.count : 0).then(
      (r) => {
        for (const resolve of q.resolvers) resolve(r);
      },
      (err: unknown) => {
        for (const reject of q.rejecters) reject(err);
      },
    );
  }

  /** The counts, read from the target state at collection time (asynchronous sums). */
  _observeCounts(result: BatchObservableResult, inst: CoreInstruments): void {
    this._instrumentsCollected();
    for (const state of this._targets().values()) {
      const attrs = state.targetAttributes;
      for (const [trigger, counts] of state.reloadCounts) {
        const attributes = state.countAttributes(trigger);
        for (let i = 0; i < counts.length; i++) result.observe(inst.reloads, counts[i]!, attributes[i]);
      }
      result.observe(inst.inProgress, state.inProgress, attrs);
      result.observe(inst.pending, state.pending, attrs);
    }
  }

  /**
   * Every target's gauges as its state holds them at this collection: one snapshot, so the hash
   * and the generation the drift rule compares always come from the same moment, and a version or
   * candidate that is no longer current has no series.
   */
  protected override _observeCurrent(gauges: CurrentGauges): void {
    for (const state of this._targets().values()) {
      const attrs = state.targetAttributes;
      gauges.observe(METRICS.generation, state.generation, attrs);
      gauges.observe(METRICS.consecutiveFailures, state.consecutiveFailures, attrs);
      if (state.hash !== undefined) {
        gauges.observe(METRICS.configHash, hashToGauge(state.hash), attrs);
        gauges.observe(METRICS.configInfo, 1, {
          ...attrs,
          [ATTR_CONFIG_HASH]: state.hash,
          [ATTR_CONFIG_VERSION]: state.version ?? '',
        });
      }
      if (state.lastReloadSucceeded !== undefined) {
        gauges.observe(METRICS.lastReloadSuccess, state.lastReloadSucceeded ? 1 : 0, attrs);
      }
      if (state.lastSuccessEpochMs !== undefined) {
        gauges.observe(METRICS.lastSuccessTimestamp, state.lastSuccessEpochMs / 1000, attrs);
      }
      if (state.candidateHash !== undefined) {
        gauges.observe(METRICS.candidateHash, hashToGauge(state.candidateHash), attrs);
        gauges.observe(METRICS.candidateInfo, 1, {
          ...attrs,
          [ATTR_CONFIG_HASH]: state.candidateHash,
          [ATTR_ERROR_TYPE]: state.candidateError ?? '',
        });
      }
      if (state.notAfter !== undefined) gauges.observe(METRICS.tlsNotAfter, state.notAfter / 1000, attrs);
    }
  }
}

function validateOptions(options: Partial<ReloadOptions> | undefined): asserts options is ReloadOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('reloadscope: options must be an object');
  if (typeof options.target !== 'string' || options.target.length === 0 || options.target.length > MAX_TARGET_CHARS) {
    throw new TypeError(`reloadscope: options.target must be a non-empty string of at most ${MAX_TARGET_CHARS} characters`);
  }
  if (options.timeoutMs !== undefined) checkDurationMs('reloadscope: options.timeoutMs', options.timeoutMs);
  if (options.trigger !== undefined) checkTrigger('reloadscope: options.trigger', options.trigger);
  if (options.force !== undefined) checkBoolean('reloadscope: options.force', options.force);
  if (options.coalesce !== undefined) checkBoolean('reloadscope: options.coalesce', options.coalesce);
  const ctx = options.context as { getValue?: unknown } | undefined;
  if (ctx !== undefined && (typeof ctx !== 'object' || ctx === null || typeof ctx.getValue !== 'function')) {
    throw new TypeError('reloadscope: options.context must be an OpenTelemetry Context');
  }
}

/** Unknown trigger names are recorded as `other`; a non-string is a mistake. */
function checkTrigger(name: string, trigger: unknown): string {
  if (typeof trigger !== 'string') throw new TypeError(`${name} must be a string (one of ${TRIGGERS.join(', ')})`);
  return trigger;
}

function checkConfig(config: ReloadInstrumentationConfig): void {
  checkObject('ReloadInstrumentation: config', config);
  if (config.errorMessages !== undefined) checkOneOf('ReloadInstrumentation: config.errorMessages', config.errorMessages, ERROR_MESSAGE_POLICIES);
  if (config.defaultTimeoutMs !== undefined) checkDurationMs('ReloadInstrumentation: config.defaultTimeoutMs', config.defaultTimeoutMs);
  if (config.maxTargets !== undefined) checkPositiveInteger('ReloadInstrumentation: config.maxTargets', config.maxTargets);
  if (config.enabled !== undefined) checkBoolean('ReloadInstrumentation: config.enabled', config.enabled);
}

/** What reload() resolves with for a target refused by the cap: nothing ran, nothing is exported. */
function refusedResult(options: ReloadOptions, err: ReloadError): ReloadResult {
  return {
    target: options.target,
    trigger: normaliseTrigger(options.trigger),
    outcome: 'failure',
    stage: undefined,
    durationMs: 0,
    hash: undefined,
    version: undefined,
    generation: 0,
    candidateHash: undefined,
    candidateVersion: undefined,
    previousHash: undefined,
    stages: [],
    coalesced: 0,
    error: { code: err.code, message: err.message, stage: undefined, cause: err },
    traceId: undefined,
    spanId: undefined,
  };
}

/**
 * The switch may still complete after the deadline: undo it when it does. Anything the late
 * switch or the rollback throws (or a thenable whose `then` throws) stays in here.
 */
function normaliseTrigger(trigger: string | undefined): ReloadTrigger {
  if (trigger === undefined) return 'api';
  return (TRIGGER_SET.has(trigger) ? trigger : 'other') as ReloadTrigger;
}

