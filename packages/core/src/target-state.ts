import type { Attributes, SpanContext } from '@opentelemetry/api';
import { ATTR_OUTCOME, ATTR_STAGE, ATTR_TARGET, ATTR_TRIGGER, OUTCOMES, type ReloadOutcome, type ReloadStage, type StageOutcome } from './semconv.ts';
import type { ActiveVersion, ReloadStages, ReloadOptions, ReloadResult } from './types.ts';

/** One follow-up run waiting for its target: one request with `coalesce: false`, or a group of coalesced ones. */
export interface QueuedRequest {
  options: ReloadOptions;
  // biome-ignore lint/suspicious/noExplicitAny: a queue holds stages of any candidate type
  stages: ReloadStages<any, any>;
  count: number;
  resolvers: Array<(r: ReloadResult) => void>;
  rejecters: Array<(err: unknown) => void>;
  /** Whether later requests may join this run (false for a `coalesce: false` request). */
  joinable: boolean;
}

const OUTCOME_INDEX: Readonly<Record<ReloadOutcome, number>> = Object.fromEntries(OUTCOMES.map((o, i) => [o, i])) as Record<ReloadOutcome, number>;

/** Everything reloadscope remembers about one target. Never holds a config value. */
export class TargetState {
  readonly target: string;
  hash: string | undefined;
  version: string | undefined;
  generation = 0;
  lastSuccessEpochMs: number | undefined;
  lastReloadSucceeded: boolean | undefined;
  consecutiveFailures = 0;
  /** Expiry (Unix ms) of the active version, for versions that have one. */
  notAfter: number | undefined;
  /** The newest identified candidate and, when it was refused, why (error.type). */
  candidateHash: string | undefined;
  candidateError: string | undefined;
  /**
   * Whether what is active may differ from `hash`: a rollback failed after a switch was attempted,
   * so the service may run the candidate, the old version, or a mix. The next run must then not
   * be skipped as `unchanged`; a switch that takes effect clears it.
   */
  uncertain = false;
  /**
   * Completed runs per trigger, one count per entry of OUTCOMES. A trigger's row exists (at 0)
   * from its first use or declaration, so every (trigger, outcome) series is exported from then on.
   */
  readonly reloadCounts = new Map<string, number[]>();
  /** Runs open right now (reload() runs one at a time; the low-level API may open more). */
  inProgress = 0;
  lastSpanContext: SpanContext | undefined;
  busy = false;
  /** The runs waiting behind the one in progress, in arrival order. */
  readonly queue: QueuedRequest[] = [];
  /** The requests waiting in `queue` (`hotreload.pending`). */
  pending = 0;

  /** `{ hotreload.target }`, shared by every per-target point. */
  readonly targetAttributes: Attributes;
  /**
   * Attribute sets of the per-run histogram points, built once per (stage, outcome): the SDK
   * hashes whatever object it gets, so building a fresh one per point was pure garbage. Frozen,
   * because the SDK keeps the first object it saw for a series as that series' attributes.
   */
  readonly #stageAttributes = new Map<ReloadStage, Map<StageOutcome, Attributes>>();
  readonly #outcomeAttributes = new Map<ReloadOutcome, Attributes>();
  readonly #countAttributes = new Map<string, Attributes[]>();

  constructor(target: string) {
    this.target = target;
    this.targetAttributes = Object.freeze({ [ATTR_TARGET]: target });
  }

  noteTrigger(trigger: string): void {
    if (!this.reloadCounts.has(trigger)) this.reloadCounts.set(trigger, OUTCOMES.map(() => 0));
  }

  countRun(trigger: string, outcome: ReloadOutcome): void {
    this.noteTrigger(trigger);
    this.reloadCounts.get(trigger)![OUTCOME_INDEX[outcome]]! += 1;
  }

  /** `{ target, stage, outcome }` of hotreload.stage.duration. */
  stageAttributes(stage: ReloadStage, outcome: StageOutcome): Attributes {
    let byOutcome = this.#stageAttributes.get(stage);
    if (!byOutcome) {
      byOutcome = new Map();
      this.#stageAttributes.set(stage, byOutcome);
    }
    let attrs = byOutcome.get(outcome);
    if (!attrs) {
      attrs = Object.freeze({ [ATTR_TARGET]: this.target, [ATTR_STAGE]: stage, [ATTR_OUTCOME]: outcome });
      byOutcome.set(outcome, attrs);
    }
    return attrs;
  }

  /** `{ target, outcome }` of hotreload.duration. */
  outcomeAttributes(outcome: ReloadOutcome): Attributes {
    let attrs = this.#outcomeAttributes.get(outcome);
    if (!attrs) {
      attrs = Object.freeze({ [ATTR_TARGET]: this.target, [ATTR_OUTCOME]: outcome });
      this.#outcomeAttributes.set(outcome, attrs);
    }
    return attrs;
  }

  /** `{ target, trigger, outcome }` of hotreload.reloads, indexed like OUTCOMES. */
  countAttributes(trigger: string): readonly Attributes[] {
    let list = this.#countAttributes.get(trigger);
    if (!list) {
      list = OUTCOMES.map((outcome) => Object.freeze({ [ATTR_TARGET]: this.target, [ATTR_TRIGGER]: trigger, [ATTR_OUTCOME]: outcome }));
      this.#countAttributes.set(trigger, list);
    }
    return list;
  }

  snapshot(): ActiveVersion {
    return {
      target: this.target,
      hash: this.hash,
      version: this.version,
      generation: this.generation,
      lastSuccessEpochMs: this.lastSuccessEpochMs,
      lastReloadSucceeded: this.lastReloadSucceeded,
      consecutiveFailures: this.consecutiveFailures,
      notAfter: this.notAfter,
      candidateHash: this.candidateHash,
      candidateError: this.candidateError,
    };
  }
}
