/**
 * How each component of the loopback stack is told its ports: environment overrides of the shipped
 * collector/otel-collector.yaml and collector/jaeger.yaml (which read every address from `${env:…}`),
 * and, for Prometheus, which cannot expand variables in scrape targets, a run directory that holds
 * the shipped prometheus.yml itself (a symlink: relative paths resolve against the directory of the
 * path Prometheus was given), the shipped rules, and file_sd target files with loopback addresses in
 * place of collector/prometheus/targets/, which name docker-compose hosts.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import type { PortName, PortPlan } from './stack-ports.ts';
import { COLLECTOR_DIR } from './stack-processes.ts';

export const LOOPBACK = '127.0.0.1';
export const PROMETHEUS_DIR = join(COLLECTOR_DIR, 'prometheus');
export const JAEGER_CONFIG = join(COLLECTOR_DIR, 'jaeger.yaml');
export const COLLECTOR_CONFIG = join(COLLECTOR_DIR, 'otel-collector.yaml');

const at = (plan: PortPlan, name: PortName) => `${LOOPBACK}:${plan[name]}`;

/** Every listening port of jaeger.yaml, on loopback. */
export function jaegerEnv(plan: PortPlan): Record<string, string> {
  return {
    JAEGER_LISTEN_HOST: LOOPBACK,
    JAEGER_OTLP_GRPC_PORT: String(plan.jaegerOtlpGrpc),
    JAEGER_OTLP_HTTP_PORT: String(plan.jaegerOtlpHttp),
    JAEGER_QUERY_HTTP_PORT: String(plan.jaegerQuery),
    JAEGER_QUERY_GRPC_PORT: String(plan.jaegerQueryGrpc),
    JAEGER_HEALTH_PORT: String(plan.jaegerHealth),
    JAEGER_METRICS_PORT: String(plan.jaegerMetrics),
  };
}

export interface CollectorOptions {
  /** The scrape job = the `job` label of the app's series: name it after the service. */
  job: string;
  /** How often the Collector scrapes the app (a Prometheus duration); the shipped default is 15s. */
  scrapeInterval?: string;
  batchTimeout?: string;
}

/** Every listening port and target of otel-collector.yaml, on loopback, scraping the app at appMetrics. */
export function collectorEnv(plan: PortPlan, options: CollectorOptions): Record<string, string> {
  return {
    OTELCOL_HEALTH_ENDPOINT: at(plan, 'collectorHealth'),
    OTELCOL_OTLP_GRPC_ENDPOINT: at(plan, 'collectorOtlpGrpc'),
    OTELCOL_OTLP_HTTP_ENDPOINT: at(plan, 'collectorOtlpHttp'),
    OTELCOL_PROMETHEUS_ENDPOINT: at(plan, 'collectorProm'),
    OTELCOL_TELEMETRY_HOST: LOOPBACK,
    OTELCOL_TELEMETRY_PORT: String(plan.collectorTelemetry),
    JAEGER_OTLP_GRPC_ENDPOINT: at(plan, 'jaegerOtlpGrpc'),
    // Pushed metrics (pipeline metrics/otlp) are remote-written into the stack's Prometheus.
    OTELCOL_REMOTE_WRITE_ENDPOINT: `http://${at(plan, 'prometheus')}/api/v1/write`,
    RELOADSCOPE_SCRAPE_JOB: options.job,
    RELOADSCOPE_SCRAPE_TARGET: at(plan, 'appMetrics'),
    ...(options.scrapeInterval
      ? { RELOADSCOPE_SCRAPE_INTERVAL: options.scrapeInterval, RELOADSCOPE_SCRAPE_TIMEOUT: options.scrapeInterval }
      : {}),
    ...(options.batchTimeout ? { OTELCOL_BATCH_TIMEOUT: options.batchTimeout } : {}),
  };
}

/** An app started with `--import @reloadscope/register`: traces to the Collector, metrics on appMetrics. */
export function instrumentedAppEnv(plan: PortPlan, serviceName: string): Record<string, string> {
  return {
    OTEL_SERVICE_NAME: serviceName,
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://${at(plan, 'collectorOtlpHttp')}`,
    OTEL_EXPORTER_PROMETHEUS_HOST: LOOPBACK,
    OTEL_EXPORTER_PROMETHEUS_PORT: String(plan.appMetrics),
    // The SDK's default is 5 s: a reload would reach Jaeger seconds after it happened.
    OTEL_BSP_SCHEDULE_DELAY: '200',
  };
}

/**
 * What the Collector's metrics/otlp pipeline needs of Prometheus (collector/README.md, "Native
 * histograms"): a remote-write receiver, and native histograms to store pushed exponential
 * histograms as one series each. The same flags as collector/docker-compose.yml.
 */
export const PROMETHEUS_FEATURE_FLAGS = ['--web.enable-remote-write-receiver', '--enable-feature=native-histograms'] as const;

/** The loopback address of each scrape job of the shipped prometheus.yml. */
const PROMETHEUS_JOB_PORTS: Record<string, PortName> = {
  'otel-collector': 'collectorProm',
  'otel-collector-internal': 'collectorTelemetry',
};

interface PrometheusConfig {
  global?: Record<string, unknown>;
  rule_files?: string[];
  scrape_configs: Array<{ job_name: string; file_sd_configs?: Array<{ files: string[] }>; static_configs?: unknown }>;
}

export function shippedPrometheusConfig(): PrometheusConfig {
  return parse(readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as PrometheusConfig;
}

export interface PrometheusOptions {
  /** Sets the scrape interval (and timeout) of every job through its targets' `__scrape_interval__` label. */
  scrapeInterval?: string;
  /**
   * Replaces keys of `global` (e.g. evaluation_interval for a test that needs fast rule evaluation).
   * Then prometheus.yml in the run directory is a derived copy of the shipped one, not the file itself.
   */
  global?: Record<string, string>;
}

/**
 * Prepares `dir` as the Prometheus config directory for `plan` and returns the command-line
 * arguments that run Prometheus from it on loopback. Throws if the shipped prometheus.yml has a job
 * this module has no loopback address for, or a target source other than a relative file_sd file.
 */
export function preparePrometheus(dir: string, plan: PortPlan, options: PrometheusOptions = {}): string[] {
  const config = shippedPrometheusConfig();
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'prometheus.yml');
  if (options.global) writeFileSync(configPath, JSON.stringify({ ...config, global: { ...config.global, ...options.global } }));
  else symlinkSync(join(PROMETHEUS_DIR, 'prometheus.yml'), configPath);
  const linked = new Set<string>();
  for (const pattern of config.rule_files ?? []) {
    if (isAbsolute(pattern)) throw new Error(`prometheus.yml: rule_files entry ${pattern} must be relative to the config file`);
    const top = pattern.split('/')[0]!;
    if (!linked.has(top)) symlinkSync(join(PROMETHEUS_DIR, top), join(dir, top));
    linked.add(top);
  }
  const labels = options.scrapeInterval
    ? { __scrape_interval__: options.scrapeInterval, __scrape_timeout__: options.scrapeInterval }
    : undefined;
  for (const job of config.scrape_configs) {
    const port = PROMETHEUS_JOB_PORTS[job.job_name];
    const files = job.file_sd_configs?.flatMap((sd) => sd.files) ?? [];
    if (port === undefined || job.static_configs !== undefined || files.length === 0) {
      throw new Error(`prometheus.yml: job ${job.job_name} needs file_sd targets and a loopback port in scripts/stack-wiring.ts`);
    }
    for (const file of files) {
      if (isAbsolute(file) || /[*?[]/.test(file)) throw new Error(`prometheus.yml: ${job.job_name} file_sd file ${file} must be a relative path`);
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), JSON.stringify([{ targets: [at(plan, port)], ...(labels ? { labels } : {}) }]));
    }
  }
  return [
    `--config.file=${configPath}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=${at(plan, 'prometheus')}`,
    ...PROMETHEUS_FEATURE_FLAGS,
  ];
}
