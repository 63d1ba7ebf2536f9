/**
 * Test-side metric collection shared by the package test suites: a real SDK pull reader and a
 * flat view of what it collected, so every suite asserts names, units, types and attributes the
 * same way. (Unit tests of the instrument only; pipeline tests scrape real endpoints.)
 */
import type { Attributes } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, MeterProvider, type MeterProviderOptions, MetricReader } from '@opentelemetry/sdk-metrics';
import { currentSeriesProducer } from '../../packages/register/src/current-series-producer.ts';

/**
 * A pull reader the test collects from on demand. Like every reader register builds, it carries
 * the producer of reloadscope's gauges for the provider `meterProvider()` returns.
 */
export class TestMetricReader extends MetricReader {
  constructor(meterProvider: () => MeterProvider | undefined) {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE, metricProducers: [currentSeriesProducer(meterProvider)] });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** A MeterProvider read by a TestMetricReader (and any `readers` given), gauges included. */
export function testMeterProvider(options: MeterProviderOptions = {}): { reader: TestMetricReader; meterProvider: MeterProvider } {
  let meterProvider: MeterProvider | undefined;
  const reader = new TestMetricReader(() => meterProvider);
  meterProvider = new MeterProvider({ ...options, readers: [reader, ...(options.readers ?? [])] });
  return { reader, meterProvider };
}

export interface Point {
  attributes: Attributes;
  /** Number for sums and gauges; for histograms the count. */
  value: number;
  sum?: number;
  max?: number;
  boundaries?: number[];
  counts?: number[];
}

export interface CollectedMetric {
  name: string;
  unit: string;
  /** `HISTOGRAM`, `GAUGE`, `SUM:monotonic` or `SUM:nonmonotonic`. */
  type: string;
  scope: string;
  points: Point[];
}

export async function collect(reader: MetricReader): Promise<CollectedMetric[]> {
  const { resourceMetrics, errors } = await reader.collect();
  if (errors.length) throw errors[0];
  const out: CollectedMetric[] = [];
  for (const sm of resourceMetrics.scopeMetrics) {
    for (const m of sm.metrics) {
      const sum = m.dataPointType === DataPointType.SUM ? (m.isMonotonic ? ':monotonic' : ':nonmonotonic') : '';
      out.push({
        name: m.descriptor.name,
        unit: m.descriptor.unit,
        type: `${DataPointType[m.dataPointType]}${sum}`,
        scope: sm.scope.name,
        points: m.dataPoints.map((dp) => {
          const v = dp.value as unknown;
          if (typeof v === 'number') return { attributes: dp.attributes, value: v };
          const h = v as { count: number; sum?: number; max?: number; buckets: { boundaries: number[]; counts: number[] } };
          return { attributes: dp.attributes, value: h.count, sum: h.sum, max: h.max, boundaries: h.buckets.boundaries, counts: h.buckets.counts };
        }),
      });
    }
  }
  return out;
}

/** The value of one series (exact attribute set); undefined when the series does not exist. */
export async function seriesValue(reader: MetricReader, name: string, attributes: Attributes): Promise<number | undefined> {
  const m = (await collect(reader)).find((x) => x.name === name);
  return m?.points.find((p) => sameAttributes(p.attributes, attributes))?.value;
}

/** Exact attribute-set equality. */
export function sameAttributes(actual: Attributes, expected: Attributes): boolean {
  const a = Object.keys(actual).sort();
  const e = Object.keys(expected).sort();
  return a.length === e.length && a.every((k, i) => k === e[i] && actual[k] === expected[k]);
}
