#!/usr/bin/env node
/**
 * reloadscope-cluster --release <dir> --entry <file> [--workers n] [--target name] [--ready-timeout ms]
 *                     [--drain-timeout ms] [--health path] [--public-key file]
 *
 * Telemetry is booted from the OTEL_* variables exactly as `--import @reloadscope/register` does
 * (the Prometheus endpoint on OTEL_EXPORTER_PROMETHEUS_PORT). SIGUSR2 upgrades; SIGTERM/SIGINT
 * drain every worker, flush telemetry and exit. RELOADSCOPE_CLUSTER_HTTP_TOKEN (with optional
 * RELOADSCOPE_CLUSTER_HTTP_PORT, default any free port) starts @reloadscope/config's token-protected
 * HTTP trigger on 127.0.0.1: `POST /reload` upgrades and answers the run's summary. The token is
 * removed from the environment the workers inherit.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { redactSecrets } from '@reloadscope/core';
import { readEnv, startReloadscope } from '@reloadscope/register/api';
import { CLI_OPTIONS } from './cli-options.ts';
import { DEFAULT_TARGET } from './options.ts';
import { superviseCluster } from './supervisor.ts';

const USAGE = `usage: reloadscope-cluster --release <dir> --entry <file> [--workers <n>] [--target <name> (default ${DEFAULT_TARGET})]
       [--ready-timeout <ms>] [--drain-timeout <ms>] [--health <path>] [--public-key <file>]`;

function fail(message: string): never {
  process.stderr.write(`reloadscope-cluster: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) fail(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

let values: Record<string, string | undefined>;
try {
  ({ values } = parseArgs({
    options: CLI_OPTIONS,
    strict: true,
    allowPositionals: false,
  }) as { values: Record<string, string | undefined> });
} catch (err) {
  fail((err as Error).message);
}
if (!values.release || !values.entry) fail('--release and --entry are required');

let publicKey: string | undefined;
if (values['public-key'] !== undefined) {
  try {
    publicKey = readFileSync(values['public-key'], 'utf8');
  } catch (err) {
    fail(`cannot read --public-key (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

// The workers run application code and inherit this process's environment: the admin token is
// taken out of it before the first fork. Register still gets it, to withhold it from every line.
const bootEnv = { ...process.env };
const httpToken = process.env.RELOADSCOPE_CLUSTER_HTTP_TOKEN;
delete process.env.RELOADSCOPE_CLUSTER_HTTP_TOKEN;

function httpTrigger(): { token: string; port: number } | undefined {
  if (!httpToken) return undefined;
  return { token: httpToken, port: integer('RELOADSCOPE_CLUSTER_HTTP_PORT', process.env.RELOADSCOPE_CLUSTER_HTTP_PORT) ?? 0 };
}

// Our own SIGTERM handling drains first and flushes after; register's would exit before the drain.
// The instance's scrape endpoint (OTEL_EXPORTER_PROMETHEUS_HOST/PORT) is the supervisor's merge of
// its own telemetry and every worker's; the primary's own register endpoint moves to a private port.
const env = readEnv(bootEnv);
const merge = !env.disabled && env.metrics.includes('prometheus');
const telemetry = startReloadscope({
  handleSignals: false,
  env: merge ? { ...bootEnv, OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: '0' } : bootEnv,
});
const primaryUrl = merge ? await telemetry.metricsUrl() : undefined;
let stopping = false;
// Installed before the first generation starts: a SIGTERM during start-up still drains what started.
let started: ReturnType<typeof superviseCluster> | undefined;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await (await started?.catch(() => undefined))?.close();
  await telemetry.shutdown();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

let supervisor: Awaited<ReturnType<typeof superviseCluster>>;
try {
  started = superviseCluster({
    release: values.release,
    entry: values.entry,
    workers: integer('--workers', values.workers),
    target: values.target,
    readyTimeoutMs: integer('--ready-timeout', values['ready-timeout']),
    drainTimeoutMs: integer('--drain-timeout', values['drain-timeout']),
    health: values.health,
    publicKey,
    instrumentation: telemetry.instrumentation,
    workerTelemetry: !env.disabled,
    metrics: merge ? { host: env.prometheusHost, port: env.prometheusPort, primaryUrl } : undefined,
    http: httpTrigger(),
  });
  supervisor = await started;
} catch (err) {
  const e = err as { code?: string; message?: string };
  process.stderr.write(`reloadscope-cluster: the first generation did not start: ${e.code ?? 'error'}: ${redactSecrets(e.message ?? '')}\n`);
  await telemetry.shutdown();
  process.exit(stopping ? 0 : 1);
}
if (merge && (await supervisor.metricsUrl()) === undefined) {
  process.stderr.write(`reloadscope-cluster: the metrics endpoint ${env.prometheusHost}:${env.prometheusPort} cannot be bound; upgrades run without it\n`);
}
const trigger = supervisor.http ? `, POST ${supervisor.http.url} upgrades` : '';
process.stdout.write(`reloadscope-cluster: ${supervisor.workers().length} workers running ${supervisor.release.version} (pid ${process.pid}); SIGUSR2 upgrades${trigger}\n`);
