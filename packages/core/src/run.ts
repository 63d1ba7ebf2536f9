import {
  type Attributes,
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  type Link,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { Deadline, isThenable, type Settler, type Watcher } from './deadline.ts';
import { ReloadError, ReloadTimeoutError } from './errors.ts';
import { exportableMessage, recordError } from './exceptions.ts';
import { checkOneOf } from './options.ts';
import {
  ATTR_COALESCED,
  ATTR_CONFIG_HASH,
  ATTR_CONFIG_SIZE,
  ATTR_CONFIG_VERSION,
  ATTR_GENERATION,
  ATTR_OUTCOME,
  ATTR_PREVIOUS_HASH,
  ATTR_STAGE,
  ATTR_TARGET,
  ATTR_TRIGGER,
  ERROR_TYPE_ROLLBACK_FAILED,
  ERROR_TYPE_TIMEOUT,
  OUTCOMES,
  type ReloadOutcome,
  type ReloadStage,
  type ReloadTrigger,
  SPAN_ROOT,
  STAGES,
  type StageOutcome,
  spanNameForStage,
} from './semconv.ts';
import type { TargetState } from './target-state.ts';
import { describeValue, inspectThrown, safeGet } from './thrown.ts';
import type {
  ErrorMessagePolicy,
  ReloadErrorInfo,
  ReloadObserver,
  ReloadResult,
  RunInfo,
  StageContext,
  VersionIdentity,
} from './types.ts';

/** What a run needs from its instrumentation; kept narrow so the run is testable on its own. */
export interface RunHost {
  readonly tracer: Tracer;
  readonly recording: boolean;
  readonly errorMessages: ErrorMessagePolicy;
  recordStage(state: TargetState, stage: ReloadStage, outcome: StageOutcome, seconds: number): void;
  runStarted(state: TargetState, trigger: ReloadTrigger): void;
  runFinished(state: TargetState, trigger: ReloadTrigger, outcome: ReloadOutcome, seconds: number): void;
  notify<K extends keyof ReloadObserver>(hook: K, ...args: Parameters<NonNullable<ReloadObserver[K]>>): void;
}

export interface RunSettings {
  trigger: ReloadTrigger;
  timeoutMs: number | undefined;
  parent: Context;
  coalesced: number;
}

interface Finish {
  outcome: ReloadOutcome;
  error?: unknown;
  errorType?: string;
  /** Make the run's candidate the active version (a switch that took effect). */
  activate: boolean;
}

let nextRunId = 1;

/**
 * One reload run: the root `hotreload` span, its stage spans, the deadline, and the bookkeeping
 * that turns into metrics when it ends. The low-level API; `reload()` drives one of these.
 */
export class ReloadRun {
  readonly info: RunInfo;
  /** The root span (non-recording when the instrumentation is disabled). */
  readonly span: Span;

  readonly #host: RunHost;
  readonly #state: TargetState;
  readonly #settings: RunSettings;
  readonly #deadline: Deadline | undefined;
  /** The signal of a run without deadline: never aborts, created only if asked for. */
  #neverAborted: AbortSignal | undefined;
  readonly #rootContext: Context;
  readonly #started = performance.now();
  readonly #stages: ReloadResult['stages'] = [];
  readonly #previousHash: string | undefined;
  #lastStage: ReloadStage | undefined;
  #candidate: VersionIdentity | undefined;
  #result: ReloadResult | undefined;

  constructor(host: RunHost, state: TargetState, settings: RunSettings) {
    this.#host = host;
    this.#state = state;
    this.#settings = settings;
    this.#previousHash = state.hash;
    this.info = Object.freeze({ id: nextRunId++, target: state.target, trigger: settings.trigger });

    const links: Link[] = state.lastSpanContext ? [{ context: state.lastSpanContext }] : [];
    const attributes: Attributes = {
      [ATTR_TARGET]: state.target,
      [ATTR_TRIGGER]: settings.trigger,
    };
    if (state.hash) attributes[ATTR_PREVIOUS_HASH] = state.hash;
    if (settings.coalesced > 0) attributes[ATTR_COALESCED] = settings.coalesced;
    this.span = host.recording
      ? host.tracer.startSpan(SPAN_ROOT, { kind: SpanKind.INTERNAL, attributes, links }, settings.parent)
      : trace.wrapSpanContext(trace.getSpanContext(settings.parent) ?? INVALID_SPAN_CONTEXT);
    if (host.recording) state.lastSpanContext = this.span.spanContext();
    this.#rootContext = trace.setSpan(settings.parent, this.span);

    if (settings.timeoutMs !== undefined) {
      const ms = settings.timeoutMs;
      this.#deadline = new Deadline(ms, () => new ReloadTimeoutError(this.#lastStage ?? 'load', ms));
    }
    host.runStarted(state, settings.trigger);
    host.notify('runStarted', this.info);
  }

  get ended(): boolean {
    return this.#result !== undefined;
  }

  /** Aborted when the run's deadline passes. */
  get signal(): AbortSignal {
    if (this.#deadline) return this.#deadline.signal;
    this.#neverAborted ??= new AbortController().signal;
    return this.#neverAborted;
  }

  /** Whether the run's deadline has passed (without creating the signal). */
  get deadlinePassed(): boolean {
    return this.#deadline?.passed ?? false;
  }

  /**
   * Identity of the version this run loaded; becomes the active identity on success. Returns the
   * copy it keeps (each field read once); throws a TypeError for a malformed identity.
   */
  candidate(identity: VersionIdentity): VersionIdentity {
    const copy = checkIdentity(identity);
    this.#candidate = copy;
    this.span.setAttribute(ATTR_CONFIG_HASH, copy.hash);
    if (copy.version !== undefined) this.span.setAttribute(ATTR_CONFIG_VERSION, copy.version);
    if (copy.size !== undefined) this.span.setAttribute(ATTR_CONFIG_SIZE, copy.size);
    return copy;
  }

  /** Tell observers (e.g. leak probes) that the previous version has been released. */
  unloaded(previous: unknown): void {
    this.#host.notify('versionUnloaded', this.info, previous);
  }

  /**
   * Run one stage inside its own span. Resolves with the stage's value, rethrows its error.
   * When the deadline passes the returned promise rejects with a `timeout` ReloadError even if
   * the stage ignores its signal — a hung stage cannot hold the run.
   *
   * Not an async function: a stage settles through one promise (the deadline's race) instead of
   * that race plus an async function's own promise and resume, a visible share of a fast reload.
   * Every throw still reaches the caller as a rejection.
   */
  stage<T>(stage: ReloadStage, fn: (ctx: StageContext) => T | Promise<T>): Promise<T> {
    let call: StageCall<T>;
    try {
      call = this.#beginStage(stage, fn);
    } catch (err) {
      return Promise.reject(err);
    }
    let value: T | Promise<T>;
    try {
      value = this.#invoke(call, fn);
      if (!isThenable(value)) return settleNow(call, true, value);
    } catch (err) {
      return settleNow(call, false, err);
    }
    const { deadline } = call;
    if (deadline) return deadline.settle(value, call);
    return Promise.resolve(value).then(
      (v) => call.fulfilled(v),
      (e: unknown) => call.rejected(e),
    );
  }

  /**
   * @internal reload()'s form of stage(): no promise per stage. The stage ends and
   * `next.resume(stage, ok, value)` is called once it has settled (a microtask later for a plain
   * value or a synchronous throw, as `await` would), or with the timeout error when the deadline
   * passes first. Throws
   * only what the checks before the stage throw.
   */
  stageThen<T>(stage: ReloadStage, fn: (ctx: StageContext) => T | Promise<T>, next: StageContinuation): void {
    const call = this.#beginStage(stage, fn);
    call.next = next;
    let value: T | Promise<T>;
    try {
      value = this.#invoke(call, fn);
      if (!isThenable(value)) {
        queueMicrotask(() => call.settled(true, value));
        return;
      }
    } catch (err) {
      queueMicrotask(() => call.settled(false, err));
      return;
    }
    const { deadline } = call;
    if (deadline) deadline.watch(value, call);
    else {
      Promise.resolve(value).then(
        (v) => call.settled(true, v),
        (e: unknown) => call.settled(false, e),
      );
    }
  }

  /** Calls the stage's function in its span's context; a deadline already passed fails the stage. */
  #invoke<T>(call: StageCall<T>, fn: (ctx: StageContext) => T | Promise<T>): T | Promise<T> {
    if (call.deadline?.passed) throw call.deadline.reason;
    // Without recording there is no span to make current: skip the context switch.
    return call.span ? context.with(trace.setSpan(this.#rootContext, call.span), fn, undefined, call.ctx) : fn(call.ctx);
  }

  /** A stage's span, context and start, after the checks that refuse it. */
  #beginStage<T>(stage: ReloadStage, fn: (ctx: StageContext) => T | Promise<T>): StageCall<T> {
    checkOneOf('reloadscope: run.stage(stage)', stage, STAGES);
    if (typeof fn !== 'function') throw new TypeError('reloadscope: run.stage(stage, fn): fn must be a function');
    if (this.#result) throw new Error(`reloadscope: stage '${stage}' called after the run ended`);
    // A rollback must be able to run after the deadline that caused it, so it gets a fresh budget.
    const timeoutMs = this.#settings.timeoutMs;
    const rollback =
      stage === 'rollback' && timeoutMs !== undefined ? new Deadline(timeoutMs, () => new ReloadTimeoutError('rollback', timeoutMs)) : undefined;
    const deadline = rollback ?? this.#deadline;
    this.#lastStage = stage;
    const span = this.#host.recording
      ? this.#host.tracer.startSpan(
          spanNameForStage(stage),
          { kind: SpanKind.INTERNAL, attributes: { [ATTR_TARGET]: this.info.target, [ATTR_STAGE]: stage } },
          this.#rootContext,
        )
      : undefined;
    const ctx = new RunStageContext(deadline ?? this, this, this.info, stage, span ?? this.span);
    // Read before the hook so observers get the stage's start (the node probes' event-loop
    // window) without a clock read of their own; durationMs at stageEnded counts from it.
    const t0 = performance.now();
    this.#host.notify('stageStarted', this.info, stage, t0);
    return new StageCall<T>(this.#endStage, stage, ctx, span, deadline, rollback, timeoutMs, t0, this.#host.errorMessages);
  }

  /** What every stage does once it has settled, however it settled. */
  readonly #endStage = (call: StageCall<unknown>, outcome: StageOutcome): void => {
    call.rollback?.dispose();
    const ms = performance.now() - call.t0;
    this.#stages.push({ stage: call.stage, outcome, durationMs: ms });
    this.#host.recordStage(this.#state, call.stage, outcome, ms / 1000);
    // Before end(): observers may add attributes to the stage span (the node probes' blockage).
    this.#host.notify('stageEnded', this.info, call.stage, outcome, ms, call.span);
    call.span?.end();
  };

  /** End the run with an outcome; `success` makes the candidate (or `identity`) active. */
  end(outcome: ReloadOutcome = 'success', identity?: VersionIdentity): ReloadResult {
    checkOneOf('reloadscope: run.end(outcome)', outcome, OUTCOMES);
    if (identity) this.candidate(identity);
    if (outcome === 'failure' || outcome === 'timeout' || outcome === 'rollback') {
      return this.fail(new ReloadError(outcome === 'timeout' ? 'timeout' : 'reload_failed', `reload ended with ${outcome}`), outcome);
    }
    return this.finish({ outcome, activate: outcome === 'success' });
  }

  /** End the run as failed. The outcome is `timeout` for deadline errors unless given. */
  fail(err: unknown, outcome?: Exclude<ReloadOutcome, 'success' | 'unchanged'>): ReloadResult {
    if (outcome !== undefined) checkOneOf('reloadscope: run.fail(err, outcome)', outcome, FAIL_OUTCOMES);
    // Only a genuine ReloadError's code can be a snake_case type, so a lookalike is never a timeout.
    const resolved = outcome ?? (inspectThrown(err).type === ERROR_TYPE_TIMEOUT ? 'timeout' : 'failure');
    return this.finish({ outcome: resolved, error: err, activate: false });
  }

  /** @internal used by reload(): full control over activation and error.type. */
  finish(f: Finish): ReloadResult {
    if (this.#result) return this.#result;
    this.#deadline?.dispose();
    const state = this.#state;
    const seconds = (performance.now() - this.#started) / 1000;

    if (f.activate) {
      state.hash = this.#candidate?.hash;
      state.version = this.#candidate?.version;
      state.notAfter = this.#candidate?.notAfter;
      state.generation += 1;
      state.uncertain = false;
    } else if (f.errorType === ERROR_TYPE_ROLLBACK_FAILED) {
      state.uncertain = true;
    }
    if (f.outcome === 'success') {
      state.lastSuccessEpochMs = Date.now();
    }
    const ok = f.outcome === 'success' || f.outcome === 'unchanged';
    state.lastReloadSucceeded = ok;
    state.consecutiveFailures = ok ? 0 : state.consecutiveFailures + 1;

    let error: ReloadErrorInfo | undefined;
    let code: string | undefined;
    // `'error' in f`: `throw undefined` is still an error.
    if ('error' in f) {
      const thrown = inspectThrown(f.error);
      code = f.errorType ?? thrown.type;
      error = {
        code,
        message: exportableMessage(f.error, this.#host.errorMessages) ?? `${code} (message withheld: it may quote config content)`,
        stage: thrown.stage ?? this.#lastStage,
        cause: f.error,
      };
      if (this.#host.recording) recordError(this.span, f.error, this.#host.errorMessages, code);
    }
    // A run that never identified its candidate (it failed reading) says nothing new about what is
    // waiting: the last known candidate stands. One that activated a version it never identified
    // made that unknown version the newest: no candidate is known any more.
    if (this.#candidate) {
      state.candidateHash = this.#candidate.hash;
      state.candidateError = ok ? undefined : (code ?? f.outcome);
    } else if (f.activate) {
      state.candidateHash = undefined;
      state.candidateError = undefined;
    }
    if (this.#host.recording) {
      this.span.setAttribute(ATTR_OUTCOME, f.outcome);
      this.span.setAttribute(ATTR_GENERATION, state.generation);
      if (error === undefined && !ok) this.span.setStatus({ code: SpanStatusCode.ERROR, message: f.outcome });
      this.span.end();
    }
    this.#host.runFinished(state, this.info.trigger, f.outcome, seconds);

    const spanContext = this.span.spanContext();
    const recorded = this.#host.recording && trace.isSpanContextValid(spanContext);
    this.#result = {
      target: state.target,
      trigger: this.info.trigger,
      outcome: f.outcome,
      stage: this.#lastStage,
      durationMs: seconds * 1000,
      hash: state.hash,
      version: state.version,
      generation: state.generation,
      candidateHash: this.#candidate?.hash,
      candidateVersion: this.#candidate?.version,
      previousHash: this.#previousHash,
      stages: this.#stages,
      coalesced: this.#settings.coalesced,
      error,
      traceId: recorded ? spanContext.traceId : undefined,
      spanId: recorded ? spanContext.spanId : undefined,
    };
    this.#host.notify('runEnded', this.info, this.#result);
    return this.#result;
  }
}

/** What reload()'s sequence does when one of its stages has settled (see ReloadRun.stageThen). */
export interface StageContinuation {
  /** `value` is the stage's value when `ok`, else the error it failed with. Must not throw. */
  resume(stage: ReloadStage, ok: boolean, value: unknown): void;
}

/** One stage in flight: what its settling needs. Its caller's promise settles through it once. */
class StageCall<T> implements Settler<T>, Watcher {
  /** Set by stageThen(): who is told instead of a promise. */
  next: StageContinuation | undefined = undefined;
  readonly end: (call: StageCall<unknown>, outcome: StageOutcome) => void;
  readonly stage: ReloadStage;
  readonly ctx: RunStageContext;
  /** The stage's span; undefined when the instrumentation is not recording. */
  readonly span: Span | undefined;
  readonly deadline: Deadline | undefined;
  /** The rollback's own deadline, disposed when the stage settles. */
  readonly rollback: Deadline | undefined;
  readonly timeoutMs: number | undefined;
  readonly t0: number;
  readonly errorMessages: ErrorMessagePolicy;

  constructor(
    end: (call: StageCall<unknown>, outcome: StageOutcome) => void,
    stage: ReloadStage,
    ctx: RunStageContext,
    span: Span | undefined,
    deadline: Deadline | undefined,
    rollback: Deadline | undefined,
    timeoutMs: number | undefined,
    t0: number,
    errorMessages: ErrorMessagePolicy,
  ) {
    this.end = end;
    this.stage = stage;
    this.ctx = ctx;
    this.span = span;
    this.deadline = deadline;
    this.rollback = rollback;
    this.timeoutMs = timeoutMs;
    this.t0 = t0;
    this.errorMessages = errorMessages;
  }

  fulfilled(value: unknown): T {
    this.end(this as StageCall<unknown>, 'success');
    return value as T;
  }

  /** The stageThen() form: settle the stage, then hand its value or error on. */
  settled(ok: boolean, v: unknown): void {
    let out: unknown;
    try {
      out = ok ? this.fulfilled(v) : this.rejected(v);
    } catch (err) {
      this.next?.resume(this.stage, false, err);
      return;
    }
    this.next?.resume(this.stage, true, out);
  }

  rejected(err: unknown): T {
    const timedOut = this.deadline?.passed ?? false;
    const reported = timedOut ? asTimeout(this.deadline?.reason, this.stage, this.timeoutMs) : err;
    try {
      if (this.span) recordError(this.span, reported, this.errorMessages);
    } finally {
      this.end(this as StageCall<unknown>, timedOut ? 'timeout' : 'failure');
    }
    throw reported;
  }
}

/** A stage that settled before returning (a plain value, or a synchronous throw). */
function settleNow<T>(call: StageCall<T>, ok: boolean, v: unknown): Promise<T> {
  try {
    return Promise.resolve(ok ? call.fulfilled(v) : call.rejected(v));
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The StageContext handed to stage functions; `signal` is resolved only when read. */
class RunStageContext implements StageContext {
  readonly target: string;
  readonly trigger: ReloadTrigger;
  readonly stage: ReloadStage;
  readonly span: Span;
  readonly #source: { readonly signal: AbortSignal };
  readonly #run: ReloadRun;

  constructor(source: { readonly signal: AbortSignal }, run: ReloadRun, info: RunInfo, stage: ReloadStage, span: Span) {
    this.#source = source;
    this.#run = run;
    this.target = info.target;
    this.trigger = info.trigger;
    this.stage = stage;
    this.span = span;
  }

  get signal(): AbortSignal {
    return this.#source.signal;
  }

  candidate(identity: VersionIdentity): void {
    this.#run.candidate(identity);
  }
}

function asTimeout(reason: unknown, stage: ReloadStage, timeoutMs: number | undefined): unknown {
  if (reason instanceof ReloadTimeoutError && reason.stage === stage) return reason;
  return new ReloadTimeoutError(stage, timeoutMs ?? 0);
}

const FAIL_OUTCOMES = OUTCOMES.filter((o) => o !== 'success' && o !== 'unchanged');
const MAX_IDENTITY_CHARS = 256;

/** Read an identity's fields once each and check them: identify() is user code. */
function checkIdentity(identity: VersionIdentity): VersionIdentity {
  if (typeof identity !== 'object' || identity === null) throw new TypeError(`reloadscope: a version identity must be an object, got ${describeValue(identity)}`);
  const hash = safeGet(identity, 'hash');
  const version = safeGet(identity, 'version');
  const size = safeGet(identity, 'size');
  if (typeof hash !== 'string' || hash.length === 0 || hash.length > MAX_IDENTITY_CHARS) {
    throw new TypeError(`reloadscope: identity.hash must be a non-empty string of at most ${MAX_IDENTITY_CHARS} characters, got ${describeValue(hash)}`);
  }
  if (version !== undefined && (typeof version !== 'string' || version.length > MAX_IDENTITY_CHARS)) {
    throw new TypeError(`reloadscope: identity.version must be a string of at most ${MAX_IDENTITY_CHARS} characters, got ${describeValue(version)}`);
  }
  if (size !== undefined && !(typeof size === 'number' && Number.isSafeInteger(size) && size >= 0)) {
    throw new TypeError(`reloadscope: identity.size must be a non-negative integer, got ${describeValue(size)}`);
  }
  const notAfter = safeGet(identity, 'notAfter');
  if (notAfter !== undefined && !(typeof notAfter === 'number' && Number.isFinite(notAfter))) {
    throw new TypeError(`reloadscope: identity.notAfter must be a finite Unix time in milliseconds, got ${describeValue(notAfter)}`);
  }
  // Only the fields given: an absent field stays absent, not a key holding undefined.
  const copy: VersionIdentity = { hash };
  if (version !== undefined) copy.version = version;
  if (size !== undefined) copy.size = size;
  if (notAfter !== undefined) copy.notAfter = notAfter;
  return copy;
}
