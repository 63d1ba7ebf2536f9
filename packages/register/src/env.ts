/**
 * The OTEL_* environment variables @reloadscope/register understands, parsed once into plain
 * settings. Pure: takes the env record, returns settings plus the problems found, so bad values
 * become a clear message (and a safe default) instead of a crash.
 */

export type TracesExporterName = 'otlp' | 'console';
export type MetricsExporterName = 'prometheus' | 'console';

export interface EnvSettings {
  disabled: boolean;
  serviceName: string | undefined;
  traces: TracesExporterName[];
  tracesUrl: string;
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
  problems: string[];
}

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
  const n = Number(v);
  if (Number.isInteger(n) && n >= min && n <= max) return n;
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

/** Signal-specific endpoint as given; the generic one gets the signal path appended (OTLP spec). */
export function tracesUrlFrom(env: Env): string {
  const specific = str(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (specific) return specific;
  const base = str(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') ?? DEFAULT_OTLP_ENDPOINT;
  return `${base.replace(/\/+$/, '')}/v1/traces`;
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
  try {
    new URL(tracesUrl);
  } catch {
    problems.push(`OTLP traces endpoint ${JSON.stringify(tracesUrl)} is not a URL; using ${DEFAULT_OTLP_ENDPOINT}/v1/traces`);
  }
  const graceRaw = str(env, 'RELOADSCOPE_RETAINED_GRACE_MS');
  return {
    disabled: bool(env, 'OTEL_SDK_DISABLED', false, problems),
    serviceName: str(env, 'OTEL_SERVICE_NAME'),
    traces: list(env, 'OTEL_TRACES_EXPORTER', ['otlp', 'console'] as const, ['otlp'], problems),
    tracesUrl: URL.canParse(tracesUrl) ? tracesUrl : `${DEFAULT_OTLP_ENDPOINT}/v1/traces`,
    metrics: list(env, 'OTEL_METRICS_EXPORTER', ['prometheus', 'console'] as const, ['prometheus'], problems),
    prometheusHost: str(env, 'OTEL_EXPORTER_PROMETHEUS_HOST') ?? DEFAULT_PROMETHEUS_HOST,
    prometheusPort: int(env, 'OTEL_EXPORTER_PROMETHEUS_PORT', DEFAULT_PROMETHEUS_PORT, 0, 65535, problems),
    metricExportIntervalMs: int(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000, 100, 86_400_000, problems),
    logLevel,
    probes: bool(env, 'RELOADSCOPE_NODE_PROBES', true, problems),
    runtimeMetrics: bool(env, 'RELOADSCOPE_RUNTIME_METRICS', true, problems),
    stampGeneration: bool(env, 'RELOADSCOPE_STAMP_GENERATION', true, problems),
    retainedGraceMs: graceRaw === undefined ? undefined : int(env, 'RELOADSCOPE_RETAINED_GRACE_MS', 10_000, 0, 86_400_000, problems),
    problems,
  };
}
