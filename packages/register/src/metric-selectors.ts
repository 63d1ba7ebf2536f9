import { type AggregationOption, AggregationTemporality, AggregationType, InstrumentType } from '@opentelemetry/sdk-metrics';
import type { HistogramAggregation, TemporalityPreference } from './env.ts';

/**
 * The OTLP metric exporter's choices, as the spec's environment variables name them. The reader
 * asks for them when the instruments are created, at boot, before the exporter's package is
 * loaded (it is loaded after start-up); so they are answered here, the way the upstream
 * exporter answers them (test otlp-selectors.test.ts compares the two for every instrument type).
 */
export function temporalitySelector(preference: TemporalityPreference): (type: InstrumentType) => AggregationTemporality {
  if (preference === 'cumulative') return () => AggregationTemporality.CUMULATIVE;
  const delta: ReadonlySet<InstrumentType> =
    preference === 'delta'
      ? new Set([InstrumentType.COUNTER, InstrumentType.OBSERVABLE_COUNTER, InstrumentType.GAUGE, InstrumentType.HISTOGRAM, InstrumentType.OBSERVABLE_GAUGE])
      : new Set([InstrumentType.COUNTER, InstrumentType.HISTOGRAM]);
  return (type) => (delta.has(type) ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE);
}

const DEFAULT: AggregationOption = { type: AggregationType.DEFAULT };
const EXPONENTIAL: AggregationOption = { type: AggregationType.EXPONENTIAL_HISTOGRAM };

/** Histograms as OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION says; every other instrument by default. */
export function aggregationSelector(histograms: HistogramAggregation): (type: InstrumentType) => AggregationOption {
  if (histograms === 'explicit_bucket_histogram') return () => DEFAULT;
  return (type) => (type === InstrumentType.HISTOGRAM ? EXPONENTIAL : DEFAULT);
}
