/**
 * The telemetry catalogue: every instrument reloadscope creates, in one table.
 * Instruments, Prometheus Views, the README's metric table and the tests all read from here.
 */
import {
  ATTR_AUTH_FAILURE_REASON,
  ATTR_OUTCOME,
  ATTR_RESOURCE_TYPE,
  ATTR_STAGE,
  ATTR_TARGET,
  ATTR_TRIGGER,
  ATTR_CONFIG_HASH,
  ATTR_CONFIG_VERSION,
  ATTR_ERROR_TYPE,
  ATTR_CLUSTER_GENERATION,
} from './semconv.ts';

/**
 * Counters, up-down counters and histograms are OpenTelemetry SDK instruments. A Gauge states what
 * is true now and is reported at collection time through current-series.ts, not as an SDK
 * instrument (whose aggregation keeps every attribute set it ever saw).
 */
export type InstrumentKind = 'Counter' | 'Histogram' | 'Gauge' | 'UpDownCounter';

export interface MetricDefinition {
  /** OTel instrument name. */
  readonly name: string;
  readonly kind: InstrumentKind;
  /**
   * Reported from state reloadscope keeps anyway, at collection time (an asynchronous Counter or
   * UpDownCounter): same type on the wire, nothing recorded per reload. Gauges always are, through
   * current-series.ts.
   */
  readonly observed?: boolean;
  /** UCUM unit, '' for none. */
  readonly unit: string;
  readonly description: string;
  /** Attribute keys carried by every point. */
  readonly attributes: readonly string[];
  /**
   * Prometheus base name (without `_total`/`_bucket`…): what users write PromQL against.
   * Identical whether scraped from the app's own exporter or through the Collector.
   */
  readonly prometheus: string;
  /** Explicit histogram bucket edges. */
  readonly buckets?: readonly number[];
  /** Package that records it. */
  readonly owner: 'core' | 'node' | 'config' | 'cluster';
  /** A PromQL example for the docs. */
  readonly promql: string;
}

/**
 * Seconds. A 3 s edge so the "p99 > 3 s" alert is exact rather than interpolated between 2.5 and 5.
 */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 3, 5, 10, 30,
];

/**
 * Bytes. Non-negative only: OTel histograms drop negative measurements, so a reload that frees
 * memory is recorded as 0 — the question this answers is "how much did a reload keep".
 */
export const HEAP_DELTA_BUCKETS_BYTES: readonly number[] = [
  0, 65536, 262144, 1048576, 4194304, 16777216, 67108864, 268435456,
];

/**
 * Seconds of event-loop blockage. The 0 edge keeps the many stages that did not block at all
 * apart: without it they share the (0, 1 ms] bucket and histogram_quantile() interpolates them
 * to about 1 ms, so a dashboard showed ~1 ms "p99 blocked" for stages that never blocked. Above
 * that, 1 ms is the probe's resolution.
 */
export const EVENTLOOP_BUCKETS_SECONDS: readonly number[] = [
  0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

const t = ATTR_TARGET;

export const METRICS = {
  reloads: {
    name: 'hotreload.reloads',
    kind: 'Counter',
    observed: true,
    unit: '{reload}',
    description: 'Reload runs by outcome. Every outcome series exists from first use at 0.',
    attributes: [t, ATTR_TRIGGER, ATTR_OUTCOME],
    prometheus: 'hotreload_reloads',
    owner: 'core',
    promql: 'sum by (hotreload_target, hotreload_outcome) (increase(hotreload_reloads_total[5m]))',
  },
  duration: {
    name: 'hotreload.duration',
    kind: 'Histogram',
    unit: 's',
    description: 'Wall time of a whole reload run, from request to outcome.',
    attributes: [t, ATTR_OUTCOME],
    prometheus: 'hotreload_duration_seconds',
    buckets: DURATION_BUCKETS_SECONDS,
    owner: 'core',
    promql:
      'histogram_quantile(0.99, sum by (le, hotreload_target) (rate(hotreload_duration_seconds_bucket[10m])))',
  },
  stageDuration: {
    name: 'hotreload.stage.duration',
    kind: 'Histogram',
    unit: 's',
    description: 'Wall time of one stage (load, verify, switch, unload, rollback); outcome is the stage outcome.',
    attributes: [t, ATTR_STAGE, ATTR_OUTCOME],
    prometheus: 'hotreload_stage_duration_seconds',
    buckets: DURATION_BUCKETS_SECONDS,
    owner: 'core',
    promql:
      'histogram_quantile(0.5, sum by (le, hotreload_stage) (rate(hotreload_stage_duration_seconds_bucket[10m])))',
  },
  configHash: {
    name: 'hotreload.config.hash',
    kind: 'Gauge',
    unit: '',
    description:
      'First 48 bits of the sha256 of the ACTIVE version, as an integer (exact in float64). A failed reload never changes it.',
    attributes: [t],
    prometheus: 'hotreload_config_hash',
    owner: 'core',
    // Distinct active hashes per target across the fleet: > 1 means replicas run different configs.
    promql: 'count by (hotreload_target) (count_values by (hotreload_target) ("hash", hotreload_config_hash))',
  },
  configInfo: {
    name: 'hotreload.config.info',
    kind: 'Gauge',
    unit: '',
    description: 'Always 1; labels carry the full hex sha256 and version label of the active version.',
    attributes: [t, ATTR_CONFIG_HASH, ATTR_CONFIG_VERSION],
    prometheus: 'hotreload_config_info',
    owner: 'core',
    promql: 'hotreload_config_info{hotreload_target="app-config"}',
  },
  lastSuccessTimestamp: {
    name: 'hotreload.last_success.timestamp',
    kind: 'Gauge',
    unit: 's',
    description: 'Unix time of the last successful reload (absent until the first success).',
    attributes: [t],
    prometheus: 'hotreload_last_success_timestamp_seconds',
    owner: 'core',
    promql: 'time() - hotreload_last_success_timestamp_seconds',
  },
  lastReloadSuccess: {
    name: 'hotreload.last_reload.success',
    kind: 'Gauge',
    unit: '',
    description: '1 when the latest run ended success or unchanged, 0 when it failed, timed out or rolled back.',
    attributes: [t],
    prometheus: 'hotreload_last_reload_success',
    owner: 'core',
    promql: 'hotreload_last_reload_success == 0',
  },
  consecutiveFailures: {
    name: 'hotreload.consecutive_failures',
    kind: 'Gauge',
    unit: '{reload}',
    description: 'Runs in a row that did not succeed; reset by success or unchanged.',
    attributes: [t],
    prometheus: 'hotreload_consecutive_failures',
    owner: 'core',
    promql: 'max by (hotreload_target) (hotreload_consecutive_failures) >= 5',
  },
  inProgress: {
    name: 'hotreload.in_progress',
    kind: 'UpDownCounter',
    observed: true,
    unit: '{reload}',
    description: 'Runs executing now (0 or 1 per target).',
    attributes: [t],
    prometheus: 'hotreload_in_progress',
    owner: 'core',
    promql: 'max_over_time(hotreload_in_progress[5m])',
  },
  pending: {
    name: 'hotreload.pending',
    kind: 'UpDownCounter',
    observed: true,
    unit: '{request}',
    description: 'Requests waiting behind a running reload; they are coalesced into one follow-up run, except requests for one specific version (coalesce: false), which each get a run of their own.',
    attributes: [t],
    prometheus: 'hotreload_pending',
    owner: 'core',
    promql: 'max by (hotreload_target) (hotreload_pending)',
  },
  generation: {
    name: 'hotreload.generation',
    kind: 'Gauge',
    unit: '{generation}',
    description: 'How many versions have been activated in this process (the initial load is 1).',
    attributes: [t],
    prometheus: 'hotreload_generation',
    owner: 'core',
    promql: 'changes(hotreload_generation[1h])',
  },
  retainedVersions: {
    name: 'hotreload.retained_versions',
    kind: 'Gauge',
    unit: '{version}',
    description: 'Unloaded versions not garbage-collected after a grace period: a leak of the old config/module.',
    attributes: [t],
    prometheus: 'hotreload_retained_versions',
    owner: 'node',
    promql: 'max_over_time(hotreload_retained_versions[30m]) > 2',
  },
  heapDelta: {
    name: 'hotreload.heap.delta',
    kind: 'Histogram',
    unit: 'By',
    description: 'Heap used after a run minus before it, floored at 0 (after a full GC only in the opt-in exact mode, which needs --expose-gc).',
    attributes: [t],
    prometheus: 'hotreload_heap_delta_bytes',
    buckets: HEAP_DELTA_BUCKETS_BYTES,
    owner: 'node',
    promql: 'rate(hotreload_heap_delta_bytes_sum[1h]) / rate(hotreload_heap_delta_bytes_count[1h])',
  },
  resourcesDelta: {
    name: 'hotreload.resources.delta',
    kind: 'Gauge',
    unit: '{resource}',
    description: 'Change in active handles/requests by type between before a run and after its unload.',
    attributes: [t, ATTR_RESOURCE_TYPE],
    prometheus: 'hotreload_resources_delta',
    owner: 'node',
    promql: 'sum by (hotreload_target, hotreload_resource_type) (hotreload_resources_delta) > 0',
  },
  eventloopBlocked: {
    name: 'hotreload.eventloop.blocked',
    kind: 'Histogram',
    unit: 's',
    description:
      'Worst event-loop delay of a run: one point per run, from its worst stage, named by hotreload.stage. Each stage span carries its own as hotreload.eventloop.blocked.',
    attributes: [t, ATTR_STAGE],
    prometheus: 'hotreload_eventloop_blocked_seconds',
    buckets: EVENTLOOP_BUCKETS_SECONDS,
    owner: 'node',
    promql:
      'histogram_quantile(0.99, sum by (le, hotreload_stage) (rate(hotreload_eventloop_blocked_seconds_bucket[10m])))',
  },
  candidateHash: {
    name: 'hotreload.candidate.hash',
    kind: 'Gauge',
    unit: '',
    description:
      'First 48 bits of the sha256 of the NEWEST candidate a run identified, applied or refused. Equal to hotreload.config.hash unless a newer version waits unapplied; absent after a version without identity was activated.',
    attributes: [t],
    prometheus: 'hotreload_candidate_hash',
    owner: 'core',
    promql: 'hotreload_candidate_hash != hotreload_config_hash',
  },
  candidateInfo: {
    name: 'hotreload.candidate.info',
    kind: 'Gauge',
    unit: '',
    description: 'Always 1; labels carry the newest candidate\'s full hex sha256 and, when it was refused, why (error.type).',
    attributes: [t, ATTR_CONFIG_HASH, ATTR_ERROR_TYPE],
    prometheus: 'hotreload_candidate_info',
    owner: 'core',
    promql: 'hotreload_candidate_info{error_type!=""}',
  },
  tlsNotAfter: {
    name: 'hotreload.tls.not_after',
    kind: 'Gauge',
    unit: 's',
    description: 'Expiry (Unix seconds) of the certificate the process ACTIVELY serves (watchTls), not of the file on disk.',
    attributes: [t],
    prometheus: 'hotreload_tls_not_after_timestamp_seconds',
    owner: 'core',
    promql: '(hotreload_tls_not_after_timestamp_seconds - time()) / 86400',
  },
  httpAuthFailures: {
    name: 'hotreload.http.auth_failures',
    kind: 'Counter',
    unit: '{request}',
    description:
      'Requests the HTTP reload trigger refused for their credentials, by reason; each reason exists at 0 once a trigger is listening. Never carries the token.',
    attributes: [ATTR_AUTH_FAILURE_REASON],
    prometheus: 'hotreload_http_auth_failures',
    owner: 'config',
    promql: 'sum by (hotreload_auth_reason) (increase(hotreload_http_auth_failures_total[5m])) > 0',
  },
  bundlePruneFailures: {
    name: 'hotreload.bundle.prune_failures',
    kind: 'Counter',
    unit: '{release}',
    description: 'Old bundle releases that could not be removed after a switch. The switch itself stands (outcome success).',
    attributes: [t],
    prometheus: 'hotreload_bundle_prune_failures',
    owner: 'config',
    promql: 'increase(hotreload_bundle_prune_failures_total[1h]) > 0',
  },
  clusterWorkers: {
    name: 'hotreload.cluster.workers',
    kind: 'Gauge',
    unit: '{worker}',
    description:
      'Live workers of a @reloadscope/cluster supervisor by generation: starting (being verified), current (serving), old (draining). old > 0 past the drain timeout is a lingering generation.',
    attributes: [t, ATTR_CLUSTER_GENERATION],
    prometheus: 'hotreload_cluster_workers',
    owner: 'cluster',
    promql: 'hotreload_cluster_workers{hotreload_cluster_generation="old"} > 0',
  },
  clusterDrainDuration: {
    name: 'hotreload.cluster.drain.duration',
    kind: 'Histogram',
    unit: 's',
    description: 'Wall time from a worker being told to drain to its exit (clean or killed at the drain timeout).',
    attributes: [t],
    prometheus: 'hotreload_cluster_drain_duration_seconds',
    buckets: DURATION_BUCKETS_SECONDS,
    owner: 'cluster',
    promql:
      'histogram_quantile(0.99, sum by (le, hotreload_target) (rate(hotreload_cluster_drain_duration_seconds_bucket[30m])))',
  },
  clusterForcedKills: {
    name: 'hotreload.cluster.forced_kills',
    kind: 'Counter',
    observed: true,
    unit: '{worker}',
    description: 'Draining workers still alive at the drain timeout, killed with SIGKILL (their in-flight requests were cut).',
    attributes: [t],
    prometheus: 'hotreload_cluster_forced_kills',
    owner: 'cluster',
    promql: 'increase(hotreload_cluster_forced_kills_total[30m]) > 0',
  },
  clusterWorkerRestarts: {
    name: 'hotreload.cluster.worker_restarts',
    kind: 'Counter',
    observed: true,
    unit: '{worker}',
    description: 'Workers that died outside an upgrade and were replaced (with backoff). A steady rate is a crash loop.',
    attributes: [t],
    prometheus: 'hotreload_cluster_worker_restarts',
    owner: 'cluster',
    promql: 'increase(hotreload_cluster_worker_restarts_total[10m]) > 3',
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

export const METRIC_LIST: readonly MetricDefinition[] = Object.values(METRICS);

/** Series names as Prometheus shows them for a definition (what PromQL is written against). */
export function prometheusSeries(def: MetricDefinition): string[] {
  switch (def.kind) {
    case 'Counter':
      return [`${def.prometheus}_total`];
    case 'Histogram':
      return ['_bucket', '_sum', '_count'].map((s) => def.prometheus + s);
    default:
      return [def.prometheus];
  }
}

/**
 * The Prometheus label an attribute key becomes (hotreload.target -> hotreload_target): both the JS
 * exporter and the Collector's replace every character a label name cannot hold with `_`.
 */
export function prometheusLabel(attribute: string): string {
  return attribute.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** A plain View description understood by `@opentelemetry/sdk-metrics` MeterProvider `views`. */
export interface PrometheusViewOptions {
  meterName: string;
  instrumentName: string;
  name: string;
}

/**
 * Views that give the JS `@opentelemetry/exporter-prometheus` endpoint exactly the catalogue's
 * Prometheus names. That exporter appends `_total` to counters but no unit suffix, whereas the
 * Collector's prometheus exporter appends unit suffixes; renaming the unit-bearing instruments
 * to their Prometheus base name makes both paths agree. Plain objects, so core needs no SDK.
 */
export function prometheusViews(meterName = '@reloadscope/core'): PrometheusViewOptions[] {
  return METRIC_LIST.filter((d) => d.prometheus !== d.name.replaceAll('.', '_')).map((d) => ({
    meterName: d.owner === 'core' ? meterName : `@reloadscope/${d.owner}`,
    instrumentName: d.name,
    name: d.prometheus,
  }));
}
