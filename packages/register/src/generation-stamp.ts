import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';
import { type Sampler, SamplingDecision, type SamplingResult } from '@opentelemetry/sdk-trace';
import type { ActiveVersion, ReloadObserver } from '@reloadscope/core';
import { ATTR_GENERATION, ATTR_GENERATIONS } from '@reloadscope/core';

/** What the stamp needs from a ReloadInstrumentation. */
export interface GenerationSource {
  addObserver(observer: ReloadObserver): () => void;
  activeVersions(): ActiveVersion[];
}

/**
 * `combined`: one attribute, `hotreload.generations` (the default). `per-target`: also
 * `hotreload.generation.<target>` as integers, one key per target (RELOADSCOPE_STAMP_GENERATION=per-target).
 */
export type StampForm = 'combined' | 'per-target';

/** `hotreload.generation.<target>`: the per-target key of the opt-in form. */
export function generationKey(target: string): string {
  return `${ATTR_GENERATION}.${target}`;
}

/**
 * Target names are the developer's strings: the three characters the format uses (`%`, `;`, `=`)
 * and control characters are percent-encoded, everything else is kept as is, so common names
 * (`app-config`, `feature-flags/x`) read plainly and any name parses back.
 */
function escapeTarget(target: string): string {
  let out = '';
  for (const c of target) {
    const code = c.charCodeAt(0);
    const escaped = code < 0x20 || code === 0x7f || c === '%' || c === ';' || c === '=';
    out += escaped ? `%${code.toString(16).toUpperCase().padStart(2, '0')}` : c;
  }
  return out;
}

/** The value of `hotreload.generations`: `target=generation` pairs sorted by target, joined by `;`. */
export function formatGenerations(generations: Iterable<readonly [string, number]>): string {
  return [...generations]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([target, generation]) => `${escapeTarget(target)}=${generation}`)
    .join(';');
}

/**
 * The generations a `hotreload.generations` value names, by target. A malformed value is a
 * TypeError naming the entry, never a guessed generation.
 */
export function parseGenerations(value: string): Map<string, number> {
  const out = new Map<string, number>();
  if (value === '') return out;
  for (const [i, entry] of value.split(';').entries()) {
    const at = entry.lastIndexOf('=');
    const digits = entry.slice(at + 1);
    let target: string | undefined;
    try {
      target = at > 0 ? decodeURIComponent(entry.slice(0, at)) : undefined;
    } catch {
      target = undefined;
    }
    if (target === undefined || !/^[1-9]\d{0,15}$/.test(digits) || out.has(target)) {
      throw new TypeError(`${ATTR_GENERATIONS}: entry ${i + 1} is not an escaped target=generation pair, or repeats a target`);
    }
    out.set(target, Number(digits));
  }
  return out;
}

/**
 * Stamps every span the process records with the generation of each reloadable target active
 * when it starts (`hotreload.generations = "app-config=3;rules=7"`), so that a failed request can
 * be matched to the versions that served it. It does so as a sampler around the configured one:
 * a sampler's attributes join the span's initial attributes in the SDK's one pass over them, so
 * the per-span cost is one more key there, not a span processor call and a setAttribute per
 * target. The attributes object is rebuilt only when a reload activates a new generation.
 */
export class GenerationStampSampler implements Sampler {
  readonly #inner: Sampler;
  readonly #form: StampForm;
  /** Undefined while no target is active: nothing is added. */
  #attributes: Attributes | undefined;
  /**
   * The result for each recording decision when the wrapped sampler adds nothing of its own (no
   * attributes, no trace state), as the SDK's samplers do for most spans: made once per rebuild,
   * so that a span costs no allocation here. Frozen: the SDK only reads them.
   */
  #recorded: SamplingResult | undefined;
  #sampled: SamplingResult | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(inner: Sampler, source: GenerationSource, form: StampForm = 'combined') {
    this.#inner = inner;
    this.#form = form;
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

  shouldSample(context: Context, traceId: string, spanName: string, spanKind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    const result = this.#inner.shouldSample(context, traceId, spanName, spanKind, attributes, links);
    const stamp = this.#attributes;
    if (stamp === undefined || result.decision === SamplingDecision.NOT_RECORD) return result;
    if (result.attributes === undefined && result.traceState === undefined) {
      return result.decision === SamplingDecision.RECORD_AND_SAMPLED ? this.#sampled! : this.#recorded!;
    }
    return {
      decision: result.decision,
      traceState: result.traceState,
      attributes: result.attributes === undefined ? stamp : { ...result.attributes, ...stamp },
    };
  }

  toString(): string {
    return `GenerationStampSampler{${this.#inner.toString()}}`;
  }

  /** Stop following reloads (the stamp stays as it is). */
  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #rebuild(generations: ReadonlyMap<string, number>): void {
    if (generations.size === 0) return;
    const attributes: Attributes = { [ATTR_GENERATIONS]: formatGenerations(generations) };
    if (this.#form === 'per-target') for (const [target, generation] of generations) attributes[generationKey(target)] = generation;
    // Shared by every span: the SDK copies it into each span's own attributes, and nothing may change it.
    this.#attributes = Object.freeze(attributes);
    this.#sampled = Object.freeze({ decision: SamplingDecision.RECORD_AND_SAMPLED, attributes: this.#attributes });
    this.#recorded = Object.freeze({ decision: SamplingDecision.RECORD, attributes: this.#attributes });
  }
}
