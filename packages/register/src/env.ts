/**
 * The OTEL_* environment variables @reloadscope/register understands, parsed once into plain
 * settings. Pure: takes the env record, returns settings plus the problems found, so bad values
 * become a clear message (and a safe default) instead of a crash.
 */

import { redactUrl } from '@reloadscope/core';
import { describeSkipped, parseKeyValuePairs } from './key-value-pairs.ts';

export type TracesExporterName = 'otlp' | 'console';
export type MetricsExporterName = 'prometheus' | 'console';

export interface EnvSettings {
  disabled: boolean;
  serviceName: string | undefined;
  traces: TracesExporterName[];
  tracesUrl: string;
  /** The variable tracesUrl came from; undefined when it is the default (unset or refused). */
  tracesUrlVariable: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_EXPORTER_OTLP_ENDPOINT' | undefined;
  metrics: MetricsExporterName[];
  prometheusHost: string;
  prometheusPort: number;
  metricExportIntervalMs: number;
  logLevel: LogLevelName | undefined;
  /** reloadscope's own switches (see README). */
  probes: boolean;
  runtimeMetrics: boolean;
  stampGeneration: boolean;
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

/**
 * Signal-specific endpoint as given; the generic one gets the signal path appended to its path
 * (OTLP spec), before a query it may carry (`?token=…` of a Collector behind a proxy).
 */
export function tracesUrlFrom(env: Env): string {
  const specific = str(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (specific) return specific;
  const base = str(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') ?? DEFAULT_OTLP_ENDPOINT;
  const url = /^https?:\/\//i.test(base) ? URL.parse(base) : null;
  if (url === null) return `${base.replace(/\/+$/, '')}/v1/traces`;
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return url.href;
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
function otlpTimeout(env: Env, problems: string[]): number {
  const generic = int(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', DEFAULT_OTLP_TIMEOUT_MS, 1, DAY_MS, problems);
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
}

/** Variables register does not implement but a user may reasonably expect it to: said, not silently dropped. */
function unsupported(env: Env, problems: string[]): void {
  for (const key of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL']) {
    const v = str(env, key);
    if (v !== undefined && v.toLowerCase() !== 'http/json') {
      problems.push(`${key}=${JSON.stringify(env[key])}: @reloadscope/register bundles OTLP over http/json only; using http/json`);
    }
  }
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
  const tracesUrl = tracesUrlFrom(env);
  const urlOk = URL.canParse(tracesUrl) && /^https?:$/.test(new URL(tracesUrl).protocol);
  if (!urlOk) problems.push(`OTLP traces endpoint ${JSON.stringify(redactUrl(tracesUrl))} is not an http(s) URL; using ${DEFAULT_OTLP_ENDPOINT}/v1/traces`);
  const host = str(env, 'OTEL_EXPORTER_PROMETHEUS_HOST');
  const hostOk = host === undefined || /^[\w.:%[\]-]+$/.test(host);
  if (!hostOk) problems.push(`OTEL_EXPORTER_PROMETHEUS_HOST=${JSON.stringify(env.OTEL_EXPORTER_PROMETHEUS_HOST)} is not a host name or address; using ${DEFAULT_PROMETHEUS_HOST}`);
  const graceRaw = str(env, 'RELOADSCOPE_RETAINED_GRACE_MS');
  const settings: EnvSettings = {
    disabled: bool(env, 'OTEL_SDK_DISABLED', false, problems),
    serviceName: str(env, 'OTEL_SERVICE_NAME'),
    traces: list(env, 'OTEL_TRACES_EXPORTER', ['otlp', 'console'] as const, ['otlp'], problems),
    tracesUrl: urlOk ? tracesUrl : `${DEFAULT_OTLP_ENDPOINT}/v1/traces`,
    tracesUrlVariable: !urlOk
      ? undefined
      : str(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
        ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
        : str(env, 'OTEL_EXPORTER_OTLP_ENDPOINT')
          ? 'OTEL_EXPORTER_OTLP_ENDPOINT'
          : undefined,
    metrics: list(env, 'OTEL_METRICS_EXPORTER', ['prometheus', 'console'] as const, ['prometheus'], problems),
    prometheusHost: hostOk && host !== undefined ? host : DEFAULT_PROMETHEUS_HOST,
    prometheusPort: int(env, 'OTEL_EXPORTER_PROMETHEUS_PORT', DEFAULT_PROMETHEUS_PORT, 0, 65535, problems),
    metricExportIntervalMs: int(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000, 100, DAY_MS, problems),
    logLevel,
    probes: bool(env, 'RELOADSCOPE_NODE_PROBES', true, problems),
    runtimeMetrics: bool(env, 'RELOADSCOPE_RUNTIME_METRICS', true, problems),
    stampGeneration: bool(env, 'RELOADSCOPE_STAMP_GENERATION', true, problems),
    retainedGraceMs: graceRaw === undefined ? undefined : int(env, 'RELOADSCOPE_RETAINED_GRACE_MS', 10_000, 0, DAY_MS, problems),
    resourceAttributes: keyValuePairs(env, 'OTEL_RESOURCE_ATTRIBUTES', problems),
    sampler: sampler(env, problems),
    otlpTimeoutMs: otlpTimeout(env, problems),
    batch: batch(env, problems),
    shutdownTimeoutMs: int(env, 'RELOADSCOPE_SHUTDOWN_TIMEOUT_MS', DEFAULT_SHUTDOWN_TIMEOUT_MS, 0, 600_000, problems),
    problems,
  };
  checkHeaders(env, problems);
  unsupported(env, problems);
  return settings;
}
