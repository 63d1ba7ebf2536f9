import type { Attributes, SpanContext } from '@opentelemetry/api';
import { ATTR_TARGET } from './semconv.ts';
import type { ActiveVersion, ReloadStages, ReloadOptions, ReloadResult } from './types.ts';

export interface QueuedRequest {
  options: ReloadOptions;
  // biome-ignore lint/suspicious/noExplicitAny: a queue holds stages of any candidate type
  stages: ReloadStages<any, any>;
  count: number;
  resolvers: Array<(r: ReloadResult) => void>;
}

/** Everything reloadscope remembers about one target. Never holds a config value. */
export class TargetState {
  readonly target: string;
  hash: string | undefined;
  version: string | undefined;
  generation = 0;
  lastSuccessEpochMs: number | undefined;
  lastReloadSucceeded: boolean | undefined;
  consecutiveFailures = 0;
  /** Triggers seen, so each (trigger, outcome) counter series can be created at 0. */
  readonly triggers = new Set<string>();
  lastSpanContext: SpanContext | undefined;
  busy = false;
  queued: QueuedRequest | undefined;

  /** `{ hotreload.target }`, shared by every per-target point. */
  readonly targetAttributes: Attributes;
  readonly #attributes = new Map<string, Attributes>();

  constructor(target: string) {
    this.target = target;
    this.targetAttributes = Object.freeze({ [ATTR_TARGET]: target });
  }

  /** A cached attribute set for this target (closed value sets keep the cache small). */
  attributes(key: string, build: () => Attributes): Attributes {
    let attrs = this.#attributes.get(key);
    if (!attrs) {
      attrs = Object.freeze(build());
      this.#attributes.set(key, attrs);
    }
    return attrs;
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
    };
  }
}
