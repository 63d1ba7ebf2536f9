import type { Context, Span } from '@opentelemetry/api';
import type { InstrumentationConfig } from '@opentelemetry/instrumentation';
import type { ReloadOutcome, ReloadStage, ReloadTrigger, StageOutcome } from './semconv.ts';

/** What is known about a version without looking at its content. Never holds config values. */
export interface VersionIdentity {
  /** Full lowercase hex sha256 of the version's content. */
  hash: string;
  /** Optional human version label (a bundle directory name, a semver, a git sha). */
  version?: string;
  /** Optional size in bytes of the version's serialised form. */
  size?: number;
  /**
   * When the version stops being valid (Unix ms), for versions that expire: a certificate's
   * notAfter. The ACTIVE version's value is exported as `hotreload.tls.not_after`.
   */
  notAfter?: number;
}

export interface ReloadOptions {
  /** What is being reloaded: `app-config`, `rules`, `templates`… Becomes `hotreload.target`. */
  target: string;
  /** What started the reload. Unknown values are recorded as `other`. Default `api`. */
  trigger?: ReloadTrigger | (string & {});
  /**
   * Deadline for the whole run, 1 to 2^31-1 ms. Every stage gets an AbortSignal that fires at
   * the deadline.
   */
  timeoutMs?: number;
  /** Run even when the candidate hashes the same as the active version. */
  force?: boolean;
  /**
   * `false` for a request that asks for one specific thing ("activate release r5") rather than
   * "reload whatever is there now": if the target is busy it waits its turn in arrival order, is
   * never merged with another request, and resolves with the result of a run of its own stages
   * and options. Default `true`: requests that wait are coalesced into one follow-up run.
   */
  coalesce?: boolean;
  /** Parent context for the root span; default: the active context. */
  context?: Context;
}

/** Handed to every stage function. */
export interface StageContext {
  /**
   * Aborted when the run's deadline passes. An accessor: the AbortController behind it is created
   * on first read, so stages that never look pay nothing. Object spread does not copy accessors:
   * pass `ctx` itself or `ctx.signal`, not `{ ...ctx }`.
   */
  readonly signal: AbortSignal;
  readonly target: string;
  readonly trigger: ReloadTrigger;
  readonly stage: ReloadStage;
  /** The stage's span, for adding events or attributes (never configuration values). */
  readonly span: Span;
  /**
   * Name the candidate as soon as its identity is known, before the rest of the stage can fail: a
   * version that was read but does not parse is then still recorded as the newest candidate
   * (`hotreload.candidate.*`, with the failure's error.type), so "the file on disk is not the one
   * running" stays visible. Checked like `identify`'s result; a later `identify` replaces it.
   */
  candidate(identity: VersionIdentity): void;
}

export interface ReloadStages<C, P = unknown> {
  /** Fetch/read/parse the new version. */
  load: (ctx: StageContext) => C | Promise<C>;
  /** Throw to reject; nothing has changed yet. */
  verify?: (candidate: C, ctx: StageContext) => void | Promise<void>;
  /** Make the candidate active; return what it replaced. */
  switch: (candidate: C, ctx: StageContext) => P | Promise<P>;
  /** Release the replaced version. */
  unload?: (previous: P, ctx: StageContext) => void | Promise<void>;
  /** Undo a switch when the switch or a later stage failed. */
  rollback?: (previous: P | undefined, ctx: StageContext) => void | Promise<void>;
  /**
   * Identify a candidate (hash and version label). Default: sha256 of the bytes for strings and
   * byte arrays, of a key-sorted JSON serialisation otherwise.
   */
  identify?: (candidate: C) => VersionIdentity | undefined;
}

export interface ReloadErrorInfo {
  /** Stable code, also the span's `error.type`. */
  code: string;
  /** Message safe to show (never config content). */
  message: string;
  /** The stage where it happened. */
  stage?: ReloadStage;
  /** The original error, for the caller only; it is never exported as telemetry. */
  cause?: unknown;
}

export interface ReloadResult {
  target: string;
  trigger: ReloadTrigger;
  outcome: ReloadOutcome;
  /** The last stage that was entered. */
  stage: ReloadStage | undefined;
  durationMs: number;
  /** Identity of the version active after the run (unchanged unless outcome is success). */
  hash: string | undefined;
  version: string | undefined;
  generation: number;
  /** Identity of the candidate this run loaded, if it got that far. */
  candidateHash: string | undefined;
  candidateVersion: string | undefined;
  previousHash: string | undefined;
  /** Per-stage wall time in milliseconds, in execution order. */
  stages: Array<{ stage: ReloadStage; outcome: StageOutcome; durationMs: number }>;
  /** Requests that were coalesced into this run (0 when it ran for one request). */
  coalesced: number;
  error: ReloadErrorInfo | undefined;
  traceId: string | undefined;
  spanId: string | undefined;
}

/** State of one target as reloadscope sees it. */
export interface ActiveVersion {
  target: string;
  hash: string | undefined;
  version: string | undefined;
  generation: number;
  lastSuccessEpochMs: number | undefined;
  lastReloadSucceeded: boolean | undefined;
  consecutiveFailures: number;
  /** Expiry (Unix ms) of the active version, when it has one (see VersionIdentity.notAfter). */
  notAfter: number | undefined;
  /**
   * The newest candidate a run identified (after its load stage), whether it became active or
   * was refused. Differs from `hash` while a newer version sits unapplied.
   */
  candidateHash: string | undefined;
  /** error.type of the run that refused `candidateHash`; undefined when it was applied or unchanged. */
  candidateError: string | undefined;
}

export interface RunInfo {
  readonly id: number;
  readonly target: string;
  readonly trigger: ReloadTrigger;
}

/**
 * Add-ons (like @reloadscope/node) observe runs through this interface. Every hook is optional,
 * synchronous and must be cheap; a throwing observer is reported once and never breaks a reload.
 */
export interface ReloadObserver {
  runStarted?(run: RunInfo): void;
  /** `startedAt` is the stage's start on the `performance.now()` clock; stageEnded's `durationMs` is measured from it. */
  stageStarted?(run: RunInfo, stage: ReloadStage, startedAt: number): void;
  /** `span` is the stage's span, still open (undefined when nothing records): add attributes, do not end it. */
  stageEnded?(run: RunInfo, stage: ReloadStage, outcome: StageOutcome, durationMs: number, span: Span | undefined): void;
  /** The previous version after `unload` resolved: it should now become garbage. */
  versionUnloaded?(run: RunInfo, previous: unknown): void;
  runEnded?(run: RunInfo, result: ReloadResult): void;
}

export type ErrorMessagePolicy = 'safe' | 'all' | 'none';

export interface ReloadInstrumentationConfig extends InstrumentationConfig {
  /**
   * Which exception messages reach spans. `safe` (default): only messages of ReloadError
   * (written to be free of config content); other errors record their type only, because
   * e.g. JSON.parse messages quote the input. `all`: every message. `none`: types only.
   */
  errorMessages?: ErrorMessagePolicy;
  /** Default deadline for `reload()` when the call gives none. Default 30 000 ms, at most 2^31-1. */
  defaultTimeoutMs?: number;
  /**
   * Most distinct targets this instrumentation tracks (each is a set of series on every scrape).
   * A new target beyond it is refused (`target_limit`). Default 100.
   */
  maxTargets?: number;
}

/** A long-lived reloader's hold on its target name; see `ReloadInstrumentation.claimTarget`. */
export interface TargetClaim {
  readonly target: string;
  /** Give the name back (idempotent): another reloader may claim it from then on. */
  release(): void;
}
