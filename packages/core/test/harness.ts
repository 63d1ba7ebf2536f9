import { type Attributes, context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ReloadInstrumentation } from '../src/index.ts';
import type { ReloadInstrumentationConfig } from '../src/types.ts';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

/** A pull reader the test collects from on demand. */
export class TestMetricReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface Point {
  attributes: Attributes;
  /** Number for sums/gauges; for histograms the count. */
  value: number;
  sum?: number;
  buckets?: { boundaries: number[]; counts: number[] };
}
export interface CollectedMetric {
  name: string;
  unit: string;
  type: string;
  scope: string;
  points: Point[];
}

export function setup(config: ReloadInstrumentationConfig = {}) {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const reloads = new ReloadInstrumentation(config);
  reloads.setTracerProvider(tracerProvider);
  reloads.setMeterProvider(meterProvider);

  async function metrics(): Promise<CollectedMetric[]> {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length) throw errors[0];
    const out: CollectedMetric[] = [];
    for (const sm of resourceMetrics.scopeMetrics) {
      for (const m of sm.metrics) {
        out.push({
          name: m.descriptor.name,
          unit: m.descriptor.unit,
          type: `${DataPointType[m.dataPointType]}${m.dataPointType === DataPointType.SUM ? (m.isMonotonic ? ':monotonic' : ':nonmonotonic') : ''}`,
          scope: sm.scope.name,
          points: m.dataPoints.map((dp) => {
            const v = dp.value as unknown;
            if (typeof v === 'number') return { attributes: dp.attributes, value: v };
            const h = v as { count: number; sum?: number; buckets: { boundaries: number[]; counts: number[] } };
            return { attributes: dp.attributes, value: h.count, sum: h.sum, buckets: h.buckets };
          }),
        });
      }
    }
    return out;
  }

  /** The value of one series; undefined when the series does not exist. */
  async function value(name: string, attributes: Attributes): Promise<number | undefined> {
    const m = (await metrics()).find((x) => x.name === name);
    const p = m?.points.find((pt) => matches(pt.attributes, attributes));
    return p?.value;
  }

  /** Finished spans, after the (asynchronous) simple processor has handed them over. */
  async function spans(): Promise<ReadableSpan[]> {
    await tracerProvider.forceFlush();
    return exporter.getFinishedSpans();
  }

  return { reloads, exporter, reader, tracerProvider, meterProvider, metrics, value, spans };
}

/** Exact attribute-set equality. */
export function matches(actual: Attributes, expected: Attributes): boolean {
  const a = Object.keys(actual).sort();
  const e = Object.keys(expected).sort();
  return a.length === e.length && a.every((k, i) => k === e[i] && actual[k] === expected[k]);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A tiny versioned "service": what the stages switch. */
export function makeTarget<T>(initial: T) {
  const box = { active: initial, unloaded: [] as T[] };
  return {
    box,
    stages(next: T) {
      return {
        load: async () => next,
        switch: async (c: T) => {
          const prev = box.active;
          box.active = c;
          return prev;
        },
        unload: async (prev: T) => {
          box.unloaded.push(prev);
        },
        rollback: async (prev: T | undefined) => {
          if (prev !== undefined) box.active = prev;
        },
      };
    },
  };
}
