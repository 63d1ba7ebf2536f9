import type { Attributes, Context } from '@opentelemetry/api';
import type { ActiveVersion, ReloadObserver } from '@reloadscope/core';
import { ATTR_GENERATION } from '@reloadscope/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/** What the stamper needs from a ReloadInstrumentation. */
export interface GenerationSource {
  addObserver(observer: ReloadObserver): () => void;
  activeVersions(): ActiveVersion[];
}

/** `hotreload.generation.<target>`: one key per target, so several targets never collide. */
export function generationKey(target: string): string {
  return `${ATTR_GENERATION}.${target}`;
}

/**
 * Stamps every span the process starts with the generation of each reloadable target that is
 * active at that moment (`hotreload.generation.app-config = 7`), so a failed request can be matched
 * to the config version that served it. The attributes are rebuilt only when a reload ends, so
 * the per-span cost is one setAttributes() of a ready object.
 */
export class GenerationStampProcessor implements SpanProcessor {
  #attributes: Attributes = {};
  #unsubscribe: (() => void) | undefined;

  constructor(source: GenerationSource) {
    const generations = new Map<string, number>();
    for (const v of source.activeVersions()) if (v.generation > 0) generations.set(v.target, v.generation);
    this.#rebuild(generations);
    this.#unsubscribe = source.addObserver({
      runEnded: (_run, result) => {
        if (result.generation > 0 && generations.get(result.target) !== result.generation) {
          generations.set(result.target, result.generation);
          this.#rebuild(generations);
        }
      },
    });
  }

  onStart(span: Span, _parentContext: Context): void {
    span.setAttributes(this.#attributes);
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    return Promise.resolve();
  }

  #rebuild(generations: ReadonlyMap<string, number>): void {
    const next: Attributes = {};
    for (const [target, generation] of generations) next[generationKey(target)] = generation;
    this.#attributes = next;
  }
}
