export { ReloadInstrumentation, DEFAULT_MAX_TARGETS, DEFAULT_TIMEOUT_MS } from './instrumentation.ts';
export { NonPatchingInstrumentation, type InstrumentationConfig } from './non-patching-instrumentation.ts';
export { ReloadRun } from './run.ts';
export { ReloadError, ReloadTimeoutError, isReloadError, errorType, CORE_ERROR_CODES, type CoreErrorCode } from './errors.ts';
export { inspectThrown, describeValue, type ThrownInfo } from './thrown.ts';
export { redactUrl, redactSecrets, REDACTED } from './redact.ts';
export { checkPositiveInteger, checkDurationMs, checkOneOf, checkBoolean, checkObject, MAX_TIMER_MS, type RangeOptions } from './options.ts';
export { sha256Hex, hashToGauge, defaultIdentity } from './hash.ts';
export {
  METRICS,
  METRIC_LIST,
  DURATION_BUCKETS_SECONDS,
  HEAP_DELTA_BUCKETS_BYTES,
  EVENTLOOP_BUCKETS_SECONDS,
  prometheusSeries,
  prometheusLabel,
  prometheusViews,
  type MetricDefinition,
  type MetricKey,
  type InstrumentKind,
  type PrometheusViewOptions,
} from './catalogue.ts';
export { createInstrument, createInstruments, type InstrumentFor } from './instruments.ts';
export {
  bindCurrentSeries,
  collectCurrentSeries,
  type CurrentGauge,
  type CurrentGauges,
  type CurrentPoint,
  type CurrentScope,
  type CurrentScopeSeries,
  type CurrentSeriesSource,
  type GaugeDefinition,
} from './current-series.ts';
export * from './semconv.ts';
export { PACKAGE_NAME, PACKAGE_VERSION } from './version.ts';
export type * from './types.ts';
export { requestPath } from './request-target.ts';
export { formatReload, logReloads } from './format-reload.ts';
export { guardListener, LISTENER_HEADERS_TIMEOUT_MS, LISTENER_REQUEST_TIMEOUT_MS, LISTENER_SERVER_OPTIONS } from './listener-guard.ts';
