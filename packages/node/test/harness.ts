import type { Attributes } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { ReloadInstrumentation } from '@reloadscope/core';
import { type NodeProbesConfig, ReloadNodeProbes } from '../src/index.ts';

/** A real SDK pull reader that the test collects from on demand. */
export class TestMetricReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface Point {
  attributes: Attributes;
  /** Number for gauges; for histograms the count. */
  value: number;
  sum?: number;
  max?: number;
  boundaries?: number[];
}

export interface CollectedMetric {
  name: string;
  unit: string;
  type: string;
  scope: string;
  points: Point[];
}

export function setup(config: Omit<NodeProbesConfig, 'instrumentation'> = {}) {
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const reloads = new ReloadInstrumentation();
  reloads.setMeterProvider(meterProvider);
  const probes = new ReloadNodeProbes({ ...config, instrumentation: reloads });
  probes.setMeterProvider(meterProvider);

  async function metrics(): Promise<CollectedMetric[]> {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length) throw errors[0];
    const out: CollectedMetric[] = [];
    for (const sm of resourceMetrics.scopeMetrics) {
      for (const m of sm.metrics) {
        out.push({
          name: m.descriptor.name,
          unit: m.descriptor.unit,
          type: DataPointType[m.dataPointType] ?? String(m.dataPointType),
          scope: sm.scope.name,
          points: m.dataPoints.map((dp) => {
            const v = dp.value as unknown;
            if (typeof v === 'number') return { attributes: dp.attributes, value: v };
            const h = v as { count: number; sum?: number; max?: number; buckets: { boundaries: number[] } };
            return { attributes: dp.attributes, value: h.count, sum: h.sum, max: h.max, boundaries: h.buckets.boundaries };
          }),
        });
      }
    }
    return out;
  }

  async function metric(name: string): Promise<CollectedMetric | undefined> {
    return (await metrics()).find((m) => m.name === name);
  }

  async function close(): Promise<void> {
    probes.disable();
    await meterProvider.shutdown();
  }

  return { reloads, probes, reader, meterProvider, metrics, metric, close };
}

/** Poll until `check` returns a value, or fail after `timeoutMs` (a generous "eventually"). */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin: block the event loop on purpose
  }
}
