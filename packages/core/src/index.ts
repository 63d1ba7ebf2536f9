export { ReloadInstrumentation } from './instrumentation.ts';
export { ReloadRun } from './run.ts';
export { ReloadError, ReloadTimeoutError, isReloadError, errorType } from './errors.ts';
export { sha256Hex, hashToGauge, defaultIdentity } from './hash.ts';
export {
  METRICS,
  METRIC_LIST,
  DURATION_BUCKETS_SECONDS,
  HEAP_DELTA_BUCKETS_BYTES,
  EVENTLOOP_BUCKETS_SECONDS,
  prometheusSeries,
  prometheusViews,
  type MetricDefinition,
  type MetricKey,
  type InstrumentKind,
  type PrometheusViewOptions,
} from './catalogue.ts';
export { createInstrument, createInstruments, type InstrumentFor } from './instruments.ts';
export * from './semconv.ts';
export { PACKAGE_NAME, PACKAGE_VERSION } from './version.ts';
export type * from './types.ts';
export { requestPath } from './request-target.ts';
