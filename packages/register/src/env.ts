/**
 * The OTEL_* environment variables @reloadscope/register understands, parsed once into plain
 * settings. Pure: takes the env record, returns settings plus the problems found, so bad values
 * become a clear message (and a safe default) instead of a crash.
 */

import { redactUrl } from '@reloadscope/core';
import { describeSkipped, parseKeyValuePairs } from './key-value-pairs.ts';

export type TracesExporterName = 'otlp' | 'console';
export type MetricsExporterName = 'prometheus' | 'otlp' | 'console';

/** The OTLP encodings register bundles (over HTTP). `grpc` is not bundled. */
export const OTLP_PROTOCOLS = ['http/json', 'http/protobuf'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
export const DEFAULT_OTLP_PROTOCOL: OtlpProtocol = 'http/json';

/** OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, as the spec names them. */
export const TEMPORALITY_PREFERENCES = ['cumulative', 'delta', 'lowmemory'] as const;
export type TemporalityPreference = (typeof TEMPORALITY_PREFERENCES)[number];

/** OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION, as the spec names them. */
export const HISTOGRAM_AGGREGATIONS = ['explicit_bucket_histogram', 'base2_exponential_bucket_histogram'] as const;
export type HistogramAggregation = (typeof HISTOGRAM_AGGREGATIONS)[number];

/** How metrics are pushed when OTEL_METRICS_EXPORTER lists `otlp`. */
export interface OtlpMetricsSettings {
  url: string;
  /** The variable url came from; undefined when it is the default. */
  urlVariable: OtlpUrlVariable;
  protocol: OtlpProtocol;
  /** One export, retries included (OTEL_EXPORTER_OTLP_[METRICS_]TIMEOUT). */
  timeoutMs: number;
  temporality: TemporalityPreference;
  histogramAggregation: HistogramAggregation;
}

export interface EnvSettings {
  disabled: boolean;
  serviceName: string | undefined;
  traces: TracesExporterName[];
  tracesUrl: string;
  /** The variable tracesUrl came from; undefined when it is the default (unset or refused). */
  tracesUrlVariable: OtlpUrlVariable;
  tracesProtocol: OtlpProtocol;
  metrics: MetricsExporterName[];
  otlpMetrics: OtlpMetricsSettings;
  prometheusHost: string;
  prometheusPort: number;
  /** The periodic reader of every pushing metrics exporter (otlp, console); the timeout never exceeds the interval. */
  metricExportIntervalMs: number;
  metricExportTimeoutMs: number;
  logLevel: LogLevelName | undefined;
  /** reloadscope's own switches (see README). */
  probes: boolean;
  runtimeMetrics: boolean;
  /** true: `hotreload.generations` on every span; 'per-target': also `hotreload.generation.<target>`. */
  stampGeneration: boolean | 'per-target';
  retainedGraceMs: number | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES, well-formed pairs only (see key-value-pairs.ts). */
  resourceAttributes: Record<string, string>;
  sampler: SamplerSetting;
  /** OTLP exporter timeout per export, retries included (OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT). */
  otlpTimeoutMs: number;
  batch: BatchSettings;
  /** The one limit on every exit path: how long reloadscope may hold a process that is ending. */
  shutdownTimeoutMs: number;
  problems: string[];
}

/** The spec's built-in samplers that the SDK implements. */
export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];
export interface SamplerSetting {
  name: SamplerName;
  /** Ratio of the traceidratio samplers, in [0, 1]. */
  ratio: number;
}
export const DEFAULT_SAMPLER: SamplerSetting = { name: 'parentbased_always_on', ratio: 1 };
/** Spec values whose samplers need a remote service and are not bundled. */
const REMOTE_SAMPLERS = ['jaeger_remote', 'parentbased_jaeger_remote', 'xray'];

export interface BatchSettings {
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
}

export const DEFAULT_OTLP_TIMEOUT_MS = 10_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 2_000;
const DAY_MS = 86_400_000;

export const LOG_LEVELS = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318';
export const DEFAULT_PROMETHEUS_PORT = 9464;
export const DEFAULT_PROMETHEUS_HOST = 'localhost';

type Env = Readonly<Record<string, string | undefined>>;

function str(env: Env, key: string): string | undefined {
  const v = env[key]?.trim();
  return v ? v : undefined;
}

function bool(env: Env, key: string, fallback: boolean, problems: string[]): boolean {
  const v = str(env, key)?.toLowerCase();
  if (v === undefined) return fallback;
  if (v === 'true') return true;
  if (v === 'false') return false;
  problems.push(`${key}=${JSON.stringify(env[key])} is not true or false; using ${fallback}`);
  return fallback;
}

function int(env: Env, key: string, fallback: number, min: number, max: number, problems: string[]): number {
  const v = str(env, key);
  if (v === undefined) return fallback;
  const n = /^\+?\d{1,16}$/.test(v) ? Number(v) : Number.NaN; // no hex, exponents or fractions
  if (n >= min && n <= max) return n;
  problems.push(`${key}=${JSON.stringify(env[key])} is not an integer in [${min}, ${max}]; using ${fallback}`);
  return fallback;
}

function list<T extends string>(env: Env, key: string, allowed: readonly T[], fallback: T[], problems: string[]): T[] {
  const v = str(env, key);
  if (v === undefined) return fallback;
  const out: T[] = [];
  for (const raw of v.split(',')) {
    const name = raw.trim().toLowerCase();
    if (!name || name === 'none') continue;
    if ((allowed as readonly string[]).includes(name)) {
      if (!out.includes(name as T)) out.push(name as T);
    } else {
      problems.push(`${key}: exporter ${JSON.stringify(name)} is not supported by @reloadscope/register (supported: ${allowed.join(', ')}, none); ignored`);
    }
  }
  return out;
}

function oneOf<T extends string>(env: Env, key: string, allowed: readonly T[], fallback: T, problems: string[]): T {
  const v = str(env, key)?.toLowerCase();
  if (v === undefined) return fallback;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  problems.push(`${key}=${JSON.stringify(env[key])} is not one of ${allowed.join(', ')}; using ${fallback}`);
  return fallback;
}

type Signal = 'traces' | 'metrics';
const SIGNAL_ENDPOINT: Record<Signal, string> = {
  traces: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  metrics: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
};

/**
 * Signal-specific endpoint as given; the generic one gets the signal path appended to its path
 * (OTLP spec), before a query it may carry (`?token=…` of a Collector behind a proxy).
 */
export function otlpUrlFrom(env: Env, signal: Signal): string {
  const specific = str(env, SIGNAL_ENDPOINT[signal]);
  if (specific) return specific;
  const base = str(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') ?? DEFAULT_OTLP_ENDPOINT;
  const url = /^https?:\/\//i.test(base) ? URL.parse(base) : null;
  if (url === null) return `${base.replace(/\/+$/, '')}/v1/${signal}`;
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/${signal}`;
  return url.href;
}

export const tracesUrlFrom = (env: Env): string => otlpUrlFrom(env, 'traces');

/** The variable a signal's OTLP URL came from; undefined when it is the default (unset or refused). */
export type OtlpUrlVariable = string | undefined;

/**
 * The signal's OTLP URL if it is http(s), else the default one, said once (without its credentials),
 * and the variable it came from (named in advice when exports fail).
 */
function otlpUrl(env: Env, signal: Signal, problems: string[]): { url: string; variable: OtlpUrlVariable } {
  const url = otlpUrlFrom(env, signal);
  if (URL.canParse(url) && /^https?:$/.test(new URL(url).protocol)) {
    const variable = str(env, SIGNAL_ENDPOINT[signal]) ? SIGNAL_ENDPOINT[signal] : str(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') ? 'OTEL_EXPORTER_OTLP_ENDPOINT' : undefined;
    return { url, variable };
  }
  const fallback = `${DEFAULT_OTLP_ENDPOINT}/v1/${signal}`;
  problems.push(`OTLP ${signal} endpoint ${JSON.stringify(redactUrl(url))} is not an http(s) URL; using ${fallback}`);
  return { url: fallback, variable: undefined };
}

/** The generic protocol, then the signal's (a bad specific one falls back to the generic one, like the timeouts). */
function otlpProtocols(env: Env, problems: string[]): Record<Signal, OtlpProtocol> {
  const parse = (key: string, fallback: OtlpProtocol): OtlpProtocol => {
    const v = str(env, key)?.toLowerCase();
    if (v === undefined) return fallback;
    if ((OTLP_PROTOCOLS as readonly string[]).includes(v)) return v as OtlpProtocol;
    problems.push(`${key}=${JSON.stringify(env[key])}: @reloadscope/register bundles OTLP over ${OTLP_PROTOCOLS.join(' and ')} only; using ${fallback}`);
    return fallback;
  };
  const generic = parse('OTEL_EXPORTER_OTLP_PROTOCOL', DEFAULT_OTLP_PROTOCOL);
  return { traces: parse('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', generic), metrics: parse('OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', generic) };
}

/** The periodic reader throws when its timeout exceeds its interval: a default timeout follows a shorter interval silently. */
function metricExport(env: Env, problems: string[]): { intervalMs: number; timeoutMs: number } {
  const intervalMs = int(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000, 100, DAY_MS, problems);
  const timeoutMs = int(env, 'OTEL_METRIC_EXPORT_TIMEOUT', Math.min(30_000, intervalMs), 1, DAY_MS, problems);
  if (timeoutMs <= intervalMs) return { intervalMs, timeoutMs };
  problems.push(`OTEL_METRIC_EXPORT_TIMEOUT=${timeoutMs} exceeds OTEL_METRIC_EXPORT_INTERVAL=${intervalMs}; using ${intervalMs}`);
  return { intervalMs, timeoutMs: intervalMs };
}

function otlpMetrics(env: Env, protocol: OtlpProtocol, genericTimeoutMs: number, problems: string[]): OtlpMetricsSettings {
  const { url, variable } = otlpUrl(env, 'metrics', problems);
  return {
    url,
    urlVariable: variable,
    protocol,
    timeoutMs: int(env, 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', genericTimeoutMs, 1, DAY_MS, problems),
    temporality: oneOf(env, 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', TEMPORALITY_PREFERENCES, 'cumulative', problems),
    histogramAggregation: oneOf(
      env,
      'OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION',
      HISTOGRAM_AGGREGATIONS,
      'explicit_bucket_histogram',
      problems,
    ),
  };
}

function sampler(env: Env, problems: string[]): SamplerSetting {
  const raw = str(env, 'OTEL_TRACES_SAMPLER')?.toLowerCase();
  if (raw === undefined) return DEFAULT_SAMPLER;
  if (!(SAMPLERS as readonly string[]).includes(raw)) {
    const why = REMOTE_SAMPLERS.includes(raw) ? 'needs a remote sampling service and is not bundled' : 'is not a known sampler';
    problems.push(`OTEL_TRACES_SAMPLER=${JSON.stringify(env.OTEL_TRACES_SAMPLER)} ${why}; using ${DEFAULT_SAMPLER.name}`);
    return DEFAULT_SAMPLER;
  }
  const name = raw as SamplerName;
  if (!name.endsWith('traceidratio')) return { name, ratio: 1 };
  const arg = str(env, 'OTEL_TRACES_SAMPLER_ARG');
  const ratio = arg === undefined ? Number.NaN : Number(arg);
  if (ratio >= 0 && ratio <= 1) return { name, ratio };
  problems.push(
    arg === undefined
      ? `OTEL_TRACES_SAMPLER=${name} without OTEL_TRACES_SAMPLER_ARG; using ratio 1.0 (every trace sampled)`
      : `OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(env.OTEL_TRACES_SAMPLER_ARG)} is not a ratio in [0, 1]; using 1.0 (every trace sampled)`,
  );
  return { name, ratio: 1 };
}

/** The signal-specific timeout wins; a bad one falls back to the generic one, then the default. */
function otlpTimeout(env: Env, generic: number, problems: string[]): number {
  return int(env, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', generic, 1, DAY_MS, problems);
}

function batch(env: Env, problems: string[]): BatchSettings {
  const maxQueueSize = int(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048, 1, 1_000_000, problems);
  let maxExportBatchSize = int(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', Math.min(512, maxQueueSize), 1, 1_000_000, problems);
  if (maxExportBatchSize > maxQueueSize) {
    problems.push(`OTEL_BSP_MAX_EXPORT_BATCH_SIZE=${maxExportBatchSize} exceeds OTEL_BSP_MAX_QUEUE_SIZE=${maxQueueSize}; using ${maxQueueSize}`);
    maxExportBatchSize = maxQueueSize;
  }
  return {
    scheduledDelayMillis: int(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, 0, DAY_MS, problems),
    exportTimeoutMillis: int(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30_000, 1, DAY_MS, problems),
    maxQueueSize,
    maxExportBatchSize,
  };
}

/** A `k=v,…` variable: its well-formed pairs; the malformed ones said in one line, by position and key. */
function keyValuePairs(env: Env, key: string, problems: string[]): Record<string, string> {
  const raw = env[key];
  if (!raw) return {};
  const { attributes, skipped } = parseKeyValuePairs(raw);
  if (skipped.length > 0) problems.push(describeSkipped(key, skipped, Object.keys(attributes).length));
  return attributes;
}

/**
 * The OTLP headers are parsed by the upstream exporter, which drops a malformed pair silently —
 * typically the auth header, so exports then fail with a 401 that does not say why. Only checked
 * and said here, never used, and never with a value (header values are credentials).
 */
function checkHeaders(env: Env, problems: string[]): void {
  keyValuePairs(env, 'OTEL_EXPORTER_OTLP_HEADERS', problems);
  keyValuePairs(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', problems);
  keyValuePairs(env, 'OTEL_EXPORTER_OTLP_METRICS_HEADERS', problems);
}

function stampSetting(env: Env, problems: string[]): boolean | 'per-target' {
  const v = str(env, 'RELOADSCOPE_STAMP_GENERATION')?.toLowerCase();
  if (v === undefined || v === 'true') return true;
  if (v === 'false') return false;
  if (v === 'per-target') return v;
  problems.push(`RELOADSCOPE_STAMP_GENERATION=${JSON.stringify(env.RELOADSCOPE_STAMP_GENERATION)} is not true, false or per-target; using true`);
  return true;
}

/** Variables register does not implement but a user may reasonably expect it to: said, not silently dropped. */
function unsupported(env: Env, problems: string[]): void {
  const propagators = str(env, 'OTEL_PROPAGATORS');
  if (propagators !== undefined) {
    const names = propagators.split(',').map((p) => p.trim().toLowerCase()).filter(Boolean).sort().join(',');
    if (names !== 'baggage,tracecontext') {
      problems.push(`OTEL_PROPAGATORS=${JSON.stringify(env.OTEL_PROPAGATORS)} is not read by @reloadscope/register; it always propagates tracecontext,baggage`);
    }
  }
}

export function readEnv(env: Env): EnvSettings {
  const problems: string[] = [];
  const rawLevel = str(env, 'OTEL_LOG_LEVEL')?.toLowerCase();
  let logLevel: LogLevelName | undefined;
  if (rawLevel !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(rawLevel)) logLevel = rawLevel as LogLevelName;
    else problems.push(`OTEL_LOG_LEVEL=${JSON.stringify(env.OTEL_LOG_LEVEL)} is not one of ${LOG_LEVELS.join(', ')}; ignored`);
  }
  const traces = otlpUrl(env, 'traces', problems);
  const host = str(env, 'OTEL_EXPORTER_PROMETHEUS_HOST');
  const hostOk = host === undefined || /^[\w.:%[\]-]+$/.test(host);
  if (!hostOk) problems.push(`OTEL_EXPORTER_PROMETHEUS_HOST=${JSON.stringify(env.OTEL_EXPORTER_PROMETHEUS_HOST)} is not a host name or address; using ${DEFAULT_PROMETHEUS_HOST}`);
  const graceRaw = str(env, 'RELOADSCOPE_RETAINED_GRACE_MS');
  const protocols = otlpProtocols(env, problems);
  const periodic = metricExport(env, problems);
  const genericTimeoutMs = int(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', DEFAULT_OTLP_TIMEOUT_MS, 1, DAY_MS, problems);
  const settings: EnvSettings = {
    disabled: bool(env, 'OTEL_SDK_DISABLED', false, problems),
    serviceName: str(env, 'OTEL_SERVICE_NAME'),
    traces: list(env, 'OTEL_TRACES_EXPORTER', ['otlp', 'console'] as const, ['otlp'], problems),
    tracesUrl: traces.url,
    tracesUrlVariable: traces.variable,
    tracesProtocol: protocols.traces,
    metrics: list(env, 'OTEL_METRICS_EXPORTER', ['prometheus', 'otlp', 'console'] as const, ['prometheus'], problems),
    otlpMetrics: otlpMetrics(env, protocols.metrics, genericTimeoutMs, problems),
    metricExportIntervalMs: periodic.intervalMs,
    metricExportTimeoutMs: periodic.timeoutMs,
    prometheusHost: hostOk && host !== undefined ? host : DEFAULT_PROMETHEUS_HOST,
    prometheusPort: int(env, 'OTEL_EXPORTER_PROMETHEUS_PORT', DEFAULT_PROMETHEUS_PORT, 0, 65535, problems),
    logLevel,
    probes: bool(env, 'RELOADSCOPE_NODE_PROBES', true, problems),
    runtimeMetrics: bool(env, 'RELOADSCOPE_RUNTIME_METRICS', true, problems),
    stampGeneration: stampSetting(env, problems),
    retainedGraceMs: graceRaw === undefined ? undefined : int(env, 'RELOADSCOPE_RETAINED_GRACE_MS', 10_000, 0, DAY_MS, problems),
    resourceAttributes: keyValuePairs(env, 'OTEL_RESOURCE_ATTRIBUTES', problems),
    sampler: sampler(env, problems),
    otlpTimeoutMs: otlpTimeout(env, genericTimeoutMs, problems),
    batch: batch(env, problems),
    shutdownTimeoutMs: int(env, 'RELOADSCOPE_SHUTDOWN_TIMEOUT_MS', DEFAULT_SHUTDOWN_TIMEOUT_MS, 0, 600_000, problems),
    problems,
  };
  checkHeaders(env, problems);
  unsupported(env, problems);
  return settings;
}
