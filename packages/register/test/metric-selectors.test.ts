import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CumulativeTemporalitySelector, DeltaTemporalitySelector, LowMemoryTemporalitySelector } from '@opentelemetry/exporter-metrics-otlp-http';
import { AggregationType, InstrumentType } from '@opentelemetry/sdk-metrics';
import { aggregationSelector, temporalitySelector } from '../src/metric-selectors.ts';

test('temporality: register answers for every instrument type what the upstream OTLP exporter would', () => {
  const upstream = { cumulative: CumulativeTemporalitySelector, delta: DeltaTemporalitySelector, lowmemory: LowMemoryTemporalitySelector } as const;
  for (const [preference, theirs] of Object.entries(upstream)) {
    const ours = temporalitySelector(preference as keyof typeof upstream);
    for (const type of Object.values(InstrumentType)) assert.equal(ours(type), theirs(type), `${preference}, ${type}`);
  }
});

test('aggregation: exponential only for histograms, and only when asked', () => {
  const exponential = aggregationSelector('base2_exponential_bucket_histogram');
  const explicit = aggregationSelector('explicit_bucket_histogram');
  for (const type of Object.values(InstrumentType)) {
    const want = type === InstrumentType.HISTOGRAM ? AggregationType.EXPONENTIAL_HISTOGRAM : AggregationType.DEFAULT;
    assert.equal(exponential(type).type, want, type);
    assert.equal(explicit(type).type, AggregationType.DEFAULT, type);
  }
});
