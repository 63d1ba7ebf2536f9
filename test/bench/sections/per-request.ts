/**
 * Issue 15, per request: what the generation stamp costs every span the application starts.
 * `startSpan` + `end` on the full wiring's tracer provider, without a stamp processor (baseline)
 * and with @reloadscope/register's GenerationStampProcessor while 1 and 10 targets are active.
 * Two floors sit beside them, because the stamp can only be as cheap as the public span API:
 * an empty span processor (what any processor costs to be called), and the application setting
 * the same number attributes itself with `span.setAttribute` (what the SDK charges per key).
 */
import { GenerationStampProcessor, generationKey } from '@reloadscope/register/api';
import { BatchSpanProcessor, type SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ReloadInstrumentation } from '@reloadscope/core';
import { runRounds, type Variant } from '../lib/bench.ts';
import { CountingNoopExporter, useAsyncLocalStorageContext } from '../lib/otel.ts';
import { runSection, type SectionOptions, type SectionResult } from '../lib/section.ts';
import { formatSummary, summarize } from '../lib/stats.ts';

const NAMES = {
  plain: 'span start + end, no stamp (baseline)',
  one: 'span start + end, generation stamp, 1 target',
  ten: 'span start + end, generation stamp, 10 targets',
  empty: 'floor: an empty span processor added',
  ownOne: 'floor: the app sets 1 number attribute itself',
  ownTen: 'floor: the app sets 10 number attributes itself',
} as const;
const STAMPED: readonly string[] = [NAMES.one, NAMES.ten];

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
  const provider = (first?: SpanProcessor) => {
    const exporter = new CountingNoopExporter();
    exporters.push(exporter);
    const spanProcessors: SpanProcessor[] = [new BatchSpanProcessor({ exporter })];
    return new TracerProvider({ spanProcessors: first ? [first, ...spanProcessors] : spanProcessors });
  };
  const plain = provider();
  const providers = {
    [NAMES.plain]: plain,
    [NAMES.one]: provider(new GenerationStampProcessor(await reloadsWith(1))),
    [NAMES.ten]: provider(new GenerationStampProcessor(await reloadsWith(10))),
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

  // Self-check: the stamped spans carry the stamp (the harness must be able to fail).
  const probe = new TracerProvider({ spanProcessors: [new GenerationStampProcessor(await reloadsWith(10))] });
  const span = probe.getTracer('check').startSpan('check') as unknown as { attributes: Record<string, unknown> };
  if (span.attributes[generationKey('t9')] !== 1) throw new Error('the generation stamp is missing from a span');
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
    title: '7. Per request: the generation stamp on every span (per span)',
    rows,
    targets: STAMPED.map((name) => ({
      name: `generation stamp, ${name.endsWith('1 target') ? '1 target' : '10 targets'}`,
      goal: '≤ 1.05× span start + end without it',
      measured: `${formatSummary(ratio(name), 3)}×`,
      met: ratio(name).median <= 1.05,
    })),
    data: {
      perSpanMicroseconds: Object.fromEntries(Object.values(NAMES).map((k) => [k, s(k)])),
      ratioVsPlain: {
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
    notes: ['the floors use the public span API the stamp is limited to: a stamp cannot cost less than an empty processor plus the SDK\'s setAttribute per key'],
  };
}

runSection(perRequest);
