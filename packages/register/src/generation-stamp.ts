import type { Context } from '@opentelemetry/api';
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
 * the per-span cost is one setAttribute() per active target, from ready arrays.
 */
export class GenerationStampProcessor implements SpanProcessor {
  /**
   * Keys and values in two arrays: onStart calls setAttribute per key, which spares the SDK's
   * setAttributes a for-in and a hasOwnProperty per key on every span the process starts.
   */
  #keys: string[] = [];
  #values: number[] = [];
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
    const keys = this.#keys;
    const values = this.#values;
    for (let i = 0; i < keys.length; i++) span.setAttribute(keys[i]!, values[i]!);
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
    const keys: string[] = [];
    const values: number[] = [];
    for (const [target, generation] of generations) {
      keys.push(generationKey(target));
      values.push(generation);
    }
    this.#keys = keys;
    this.#values = values;
  }
}
