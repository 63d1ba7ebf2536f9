/**
 * Harness for tests that run the real telemetry stack (Collector, Jaeger v2, Prometheus) and real
 * services as child processes. The process, port and readiness logic is the one `npm run stack` uses
 * (scripts/stack-processes.ts, the port plan of scripts/stack-ports.ts, the config wiring of
 * scripts/stack-wiring.ts); this file adds what only tests need.
 */
export {
  COLLECTOR_DIR,
  freePorts,
  getJson,
  getText,
  type ManagedProcess,
  REPO_ROOT,
  StackProcesses as Harness,
  stackBinaries,
  stackCacheDir,
  tail,
  type WaitOptions,
} from '../../scripts/stack-processes.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { COLLECTOR_DIR, type ManagedProcess, type StackProcesses as Harness } from '../../scripts/stack-processes.ts';

/** Metric names (sample lines, not # comments) of a Prometheus text exposition that start with `prefix`. */
export function exposedNames(exposition: string, prefix: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(prefix)) continue;
    const match = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (match) names.add(match[0]);
  }
  return names;
}

export interface JaegerPorts {
  otlpGrpc: number;
  otlpHttp: number;
  query: number;
  queryGrpc: number;
  health: number;
  metrics: number;
}

/** Jaeger v2 with collector/jaeger.yaml on the given loopback ports. */
export function startJaeger(harness: Harness, binary: string, p: JaegerPorts): ManagedProcess {
  return harness.start('jaeger', binary, [`--config=${join(COLLECTOR_DIR, 'jaeger.yaml')}`], {
    env: {
      ...process.env,
      JAEGER_LISTEN_HOST: '127.0.0.1',
      JAEGER_OTLP_GRPC_PORT: String(p.otlpGrpc),
      JAEGER_OTLP_HTTP_PORT: String(p.otlpHttp),
      JAEGER_QUERY_HTTP_PORT: String(p.query),
      JAEGER_QUERY_GRPC_PORT: String(p.queryGrpc),
      JAEGER_HEALTH_PORT: String(p.health),
      JAEGER_METRICS_PORT: String(p.metrics),
    },
  });
}

/**
 * The repo's prometheus.yml with loopback targets for its two Collector jobs, a 1 s scrape/eval interval
 * and the given rule files (default: the repo's rules).
 */
export function loopbackPrometheusConfig(
  collector: { prom: number; telemetry: number },
  ruleFiles = [join(COLLECTOR_DIR, 'prometheus', 'rules', '*.yml')],
): Record<string, unknown> & { scrape_configs: Array<Record<string, unknown>> } {
  const config = parseYaml(readFileSync(join(COLLECTOR_DIR, 'prometheus', 'prometheus.yml'), 'utf8'));
  config.global.scrape_interval = '1s';
  config.global.evaluation_interval = '1s';
  config.rule_files = ruleFiles;
  const targets: Record<string, string> = {
    'otel-collector': `127.0.0.1:${collector.prom}`,
    'otel-collector-internal': `127.0.0.1:${collector.telemetry}`,
  };
  for (const job of config.scrape_configs) {
    if (!targets[job.job_name]) throw new Error(`unexpected scrape job ${job.job_name} in prometheus.yml`);
    // The shipped file reads its targets from file_sd files beside it; here they are given inline.
    delete job.file_sd_configs;
    job.static_configs = [{ targets: [targets[job.job_name]] }];
  }
  return config;
}
