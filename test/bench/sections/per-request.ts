/**
 * Issues 15 and 24, per request: what the generation stamp costs every span the application
 * starts. `startSpan` + `end` on the full wiring's tracer provider, with register's default
 * sampler and no stamp (baseline), then while 1 and 10 targets are active:
 * - before: issue 15's per-target form, a span processor calling `setAttribute` once per target
 *   (`hotreload.generation.<target>`), kept here as it was so both forms are measured in one run;
 * - after: `GenerationStampSampler`, one attribute (`hotreload.generations`) added through the
 *   sampler's result, in the SDK's own pass over a new span's attributes.
 * Floors beside them: an empty span processor, and the application setting the attributes itself.
 */
import { GenerationStampSampler, generationKey } from '@reloadscope/register/api';
import type { Context } from '@opentelemetry/api';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  type Span,
  type SpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_GENERATIONS, ReloadInstrumentation } from '@reloadscope/core';
import { runRounds, type Variant } from '../lib/bench.ts';
import { CountingNoopExporter, useAsyncLocalStorageContext } from '../lib/otel.ts';
import { runSection, type SectionOptions, type SectionResult } from '../lib/section.ts';
import { formatSummary, summarize } from '../lib/stats.ts';

const NAMES = {
  plain: 'span start + end, no stamp (baseline)',
  beforeOne: 'before: per-target processor, 1 target',
  beforeTen: 'before: per-target processor, 10 targets',
  one: 'after: one attribute via the sampler, 1 target',
  ten: 'after: one attribute via the sampler, 10 targets',
  empty: 'floor: an empty span processor added',
  ownOne: 'floor: the app sets 1 number attribute itself',
  ownTen: 'floor: the app sets 10 number attributes itself',
} as const;
const AFTER: readonly string[] = [NAMES.one, NAMES.ten];

/** Does nothing: what the SDK's MultiSpanProcessor charges for one more processor. */
class EmptyProcessor implements SpanProcessor {
  onStart(): void {}
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Issue 15's GenerationStampProcessor as it was (the "before" of issue 24): one setAttribute per active target. */
class PerTargetStampProcessor implements SpanProcessor {
  readonly #keys: string[] = [];
  readonly #values: number[] = [];
  constructor(reloads: ReloadInstrumentation) {
    for (const v of reloads.activeVersions()) {
      this.#keys.push(generationKey(v.target));
      this.#values.push(v.generation);
    }
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
    return Promise.resolve();
  }
}

/** register's default sampler (OTEL_TRACES_SAMPLER unset). */
const defaultSampler = (): Sampler => new ParentBasedSampler({ root: new AlwaysOnSampler() });

async function reloadsWith(targets: number): Promise<ReloadInstrumentation> {
  const reloads = new ReloadInstrumentation();
  for (let i = 0; i < targets; i++) {
    const r = await reloads.reload({ target: `t${i}` }, { load: () => ({ i }), switch: () => undefined });
    if (r.outcome !== 'success') throw new Error(`setup reload of t${i} ended ${r.outcome}`);
  }
  return reloads;
}

async function perRequest(options: SectionOptions): Promise<SectionResult> {
  useAsyncLocalStorageContext();
  const batch = 100;
  const exporters: CountingNoopExporter[] = [];
  const provider = (first?: SpanProcessor, sampler: Sampler = defaultSampler()) => {
    const exporter = new CountingNoopExporter();
    exporters.push(exporter);
    const spanProcessors: SpanProcessor[] = [new BatchSpanProcessor({ exporter })];
    return new TracerProvider({ sampler, spanProcessors: first ? [first, ...spanProcessors] : spanProcessors });
  };
  const plain = provider();
  const one = await reloadsWith(1);
  const ten = await reloadsWith(10);
  const providers: Record<string, TracerProvider> = {
    [NAMES.plain]: plain,
    [NAMES.beforeOne]: provider(new PerTargetStampProcessor(one)),
    [NAMES.beforeTen]: provider(new PerTargetStampProcessor(ten)),
    [NAMES.one]: provider(undefined, new GenerationStampSampler(defaultSampler(), one)),
    [NAMES.ten]: provider(undefined, new GenerationStampSampler(defaultSampler(), ten)),
    [NAMES.empty]: provider(new EmptyProcessor()),
  };
  const spans = (name: string, tracer: ReturnType<TracerProvider['getTracer']>): Variant => ({
    name,
    fn: async () => {
      for (let k = 0; k < batch; k++) tracer.startSpan('GET /orders').end();
    },
  });
  // The same keys and values the stamp writes, set by the caller on the plain provider.
  const ownAttributes = (name: string, targets: number): Variant => {
    const tracer = plain.getTracer('bench-request-own');
    const keys = Array.from({ length: targets }, (_, i) => generationKey(`t${i}`));
    return {
      name,
      fn: async () => {
        for (let k = 0; k < batch; k++) {
          const span = tracer.startSpan('GET /orders');
          for (let i = 0; i < keys.length; i++) span.setAttribute(keys[i]!, 1);
          span.end();
        }
      },
    };
  };
  const variants: Variant[] = [
    ...Object.entries(providers).map(([name, p]) => spans(name, p.getTracer('bench-request'))),
    ownAttributes(NAMES.ownOne, 1),
    ownAttributes(NAMES.ownTen, 10),
  ];
  const result = await runRounds(variants, {
    rounds: options.quick ? 2 : 9,
    batch,
    timeMs: options.quick ? 100 : 400,
    warmupMs: options.quick ? 30 : 150,
  });

  // Self-check: the stamped spans carry the stamp in each form (the harness must be able to fail).
  const attributesOf = (name: string) =>
    (providers[name]!.getTracer('check').startSpan('check') as unknown as { attributes: Record<string, unknown> }).attributes;
  if (attributesOf(NAMES.beforeTen)[generationKey('t9')] !== 1) throw new Error('the per-target stamp is missing from a span');
  const combined = String(attributesOf(NAMES.ten)[ATTR_GENERATIONS]);
  if (combined !== Array.from({ length: 10 }, (_, i) => `t${i}=1`).join(';')) throw new Error(`the stamp reads ${combined}`);
  for (const p of Object.values(providers)) await p.shutdown();
  if (exporters.some((e) => e.exported === 0)) throw new Error('no span reached an exporter');

  const s = (name: string) => summarize(result.perRound[name]!);
  const ratio = (name: string) => summarize(result.perRound[name]!.map((x, i) => x / result.perRound[NAMES.plain]![i]!));
  const rows = Object.values(NAMES).map((name) => ({
    measurement: name,
    value: `${formatSummary(s(name), 3)} µs`,
    vsBaseline: name === NAMES.plain ? 'baseline' : `${formatSummary(ratio(name), 3)}×`,
    note: `within-round MAD ±${result.madPct[name]!.toFixed(1)} %`,
  }));
  return {
    id: 'per-request',
    title: '7. Per request: the generation stamp on every span (per span), before and after issue 24',
    rows,
    targets: AFTER.map((name) => ({
      name: `generation stamp, ${name.endsWith('1 target') ? '1 target' : '10 targets'}`,
      goal: '≤ 1.10× span start + end without it',
      measured: `${formatSummary(ratio(name), 3)}×`,
      met: ratio(name).median <= 1.1,
    })),
    data: {
      perSpanMicroseconds: Object.fromEntries(Object.values(NAMES).map((k) => [k, s(k)])),
      ratioVsPlain: {
        beforeOneTarget: ratio(NAMES.beforeOne),
        beforeTenTargets: ratio(NAMES.beforeTen),
        oneTarget: ratio(NAMES.one),
        tenTargets: ratio(NAMES.ten),
        emptyProcessor: ratio(NAMES.empty),
        ownOneAttribute: ratio(NAMES.ownOne),
        ownTenAttributes: ratio(NAMES.ownTen),
      },
      withinRoundMadPct: result.madPct,
      samples: result.samples,
      batch,
    },
    notes: [
      'before = the per-target span processor of issue 15 (a copy here); after = GenerationStampSampler, what register installs',
      'the floors are what the public span API charges: an empty processor call, and the SDK\'s setAttribute per key',
    ],
  };
}

runSection(perRequest);
