/**
 * `reloadscope-cluster`: superviseCluster() as a command. `--help` prints every flag, signal and
 * environment variable (from FLAGS, SUPERVISOR_SIGNALS and ENVIRONMENT below). Telemetry is booted
 * from the OTEL_* variables exactly as `--import @reloadscope/register` does; every upgrade,
 * including the first generation's start and every refusal, prints one line (core's logReloads).
 * Nothing it prints carries a credential (core's redactSecrets).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { logReloads, redactSecrets } from '@reloadscope/core';
import { readEnv, startReloadscope } from '@reloadscope/register/api';
import { CLI_OPTIONS, FLAGS } from './cli-options.ts';
import { surviveClosedOutput } from './closed-output.ts';
import { type ClusterSupervisor, superviseCluster } from './supervisor.ts';
import { handleSupervisorSignals, SUPERVISOR_SIGNALS } from './supervisor-signals.ts';

const NAME = 'reloadscope-cluster';


/** superviseCluster's option error, in the words of the command line. */
function asFlagError(message: string): string {
  return message.replace(/^superviseCluster: options\.(\w+)/, (whole, option: string) => {
    const row = FLAGS.find((f) => f[3] === option);
    return row ? `--${row[0]}` : whole;
  });
}

const ENVIRONMENT: ReadonlyArray<readonly [string, string]> = [
  ['RELOADSCOPE_CLUSTER_HTTP_TOKEN', 'start the HTTP trigger: POST /reload on 127.0.0.1 with "Authorization: Bearer <token>" upgrades and answers the outcome'],
  ['RELOADSCOPE_CLUSTER_HTTP_PORT', 'the HTTP trigger\'s port (default: any free port, printed at start)'],
  ['OTEL_EXPORTER_PROMETHEUS_HOST, OTEL_EXPORTER_PROMETHEUS_PORT', 'the instance\'s one merged scrape endpoint: the supervisor\'s upgrades and every worker\'s own telemetry (default localhost:9464)'],
  ['OTEL_SDK_DISABLED', 'true: no telemetry in the supervisor or the workers'],
  ['OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_*', 'as for @reloadscope/register'],
  ['every other variable', 'passed on to the workers (the app reads its PORT and config there); RELOADSCOPE_CLUSTER_* and any variable holding the HTTP token stay in the supervisor'],
];

/** Two columns; a name wider than the first goes on a line of its own. */
function table(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = 26;
  return rows.map(([k, v]) => (k.length > width ? `  ${k}\n  ${' '.repeat(width)}  ${v}` : `  ${k.padEnd(width)}  ${v}`)).join('\n');
}

const USAGE = `usage: ${NAME} --release <dir> --entry <file> [options]`;
const HELP = `${USAGE}

Zero-downtime upgrades of a plain Node HTTP server: a new generation of workers must be ready
(listening on the service address, healthy, stable) before the old one drains.

OPTIONS
${table(FLAGS.map(([flag, arg, meaning]) => [`--${flag}${arg ? ` ${arg}` : ', -h'}`, meaning]))}

SIGNALS
${table(SUPERVISOR_SIGNALS)}

ENVIRONMENT
${table(ENVIRONMENT)}`;

/** A line for the operator; never throws (stdout may be closed). */
function say(line: string): void {
  try {
    process.stdout.write(`${line}\n`);
  } catch {
    // Nobody reads us any more.
  }
}

function fail(message: string): never {
  process.stderr.write(`${NAME}: ${message}\n${USAGE}\nSee ${NAME} --help.\n`);
  process.exit(2);
}

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) fail(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

surviveClosedOutput();
let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: CLI_OPTIONS,
    strict: true,
    allowPositionals: false,
  }));
} catch (err) {
  fail((err as Error).message);
}
if (values.help) {
  say(HELP);
  process.exit(0);
}
const flag = (name: string) => values[name] as string | undefined;
if (!flag('release') || !flag('entry')) fail('--release and --entry are required');
const port = integer('--port', flag('port'));
if (port !== undefined && (port < 1 || port > 65535)) fail(`--port must be a port number (1-65535), got ${port}`);
// An unsigned serial can be forged: rollback protection needs the key.
if (flag('serial-state') !== undefined && flag('public-key') === undefined) fail('--serial-state needs --public-key');
if (flag('serial-state') === '') fail('--serial-state must name a file');

let publicKey: string | undefined;
if (flag('public-key') !== undefined) {
  try {
    publicKey = readFileSync(flag('public-key')!, 'utf8');
  } catch (err) {
    fail(`cannot read --public-key (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

// The token stays in this process: the supervisor withholds it (and every RELOADSCOPE_CLUSTER_*
// variable) from the workers' environment (worker-env.ts); register reads it to keep it out of every line.
const httpToken = process.env.RELOADSCOPE_CLUSTER_HTTP_TOKEN;

function httpTrigger(): { token: string; port: number } | undefined {
  if (!httpToken) return undefined;
  return { token: httpToken, port: integer('RELOADSCOPE_CLUSTER_HTTP_PORT', process.env.RELOADSCOPE_CLUSTER_HTTP_PORT) ?? 0 };
}

// Installed before anything slow: from here on no signal of the table ends the process by default.
let supervisor: ClusterSupervisor | undefined;
let started: Promise<ClusterSupervisor> | undefined;
let stopping: Promise<void> | undefined;
let shutdownTelemetry: () => Promise<void> = async () => {};
handleSupervisorSignals({
  say: (line) => say(`${NAME}: ${line}`),
  passOn: (signal) => supervisor?.signalWorkers(signal) ?? 0,
  stop: () => {
    stopping = (async () => {
      // A stop during start-up still drains what started.
      await (await started?.catch(() => undefined))?.close();
      await shutdownTelemetry();
      process.exit(0);
    })();
  },
});

// Our own SIGTERM handling drains first and flushes after; register's would exit before the drain.
// The instance's scrape endpoint (OTEL_EXPORTER_PROMETHEUS_HOST/PORT) is the supervisor's merge of
// its own telemetry and every worker's; the primary's own register endpoint moves to a private port.
const env = readEnv(process.env);
const merge = !env.disabled && env.metrics.includes('prometheus');
const telemetry = startReloadscope({
  handleSignals: false,
  env: merge ? { ...process.env, OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: '0' } : process.env,
});
shutdownTelemetry = () => telemetry.shutdown();
logReloads(telemetry.instrumentation, say);
const primaryUrl = merge ? await telemetry.metricsUrl() : undefined;

try {
  started = superviseCluster({
    release: flag('release')!,
    entry: flag('entry')!,
    workers: integer('--workers', flag('workers')),
    port,
    target: flag('target'),
    readyTimeoutMs: integer('--ready-timeout', flag('ready-timeout')),
    drainTimeoutMs: integer('--drain-timeout', flag('drain-timeout')),
    stabilizeMs: integer('--stabilize', flag('stabilize')),
    health: flag('health'),
    publicKey,
    serial: flag('serial-state') === undefined ? undefined : { stateFile: flag('serial-state')! },
    instrumentation: telemetry.instrumentation,
    workerTelemetry: !env.disabled,
    metrics: merge ? { host: env.prometheusHost, port: env.prometheusPort, primaryUrl } : undefined,
    http: httpTrigger(),
  });
  supervisor = await started;
} catch (err) {
  const e = err as { code?: string; message?: string };
  if (err instanceof TypeError) {
    await telemetry.shutdown();
    fail(asFlagError(redactSecrets(e.message ?? '')));
  }
  process.stderr.write(`${NAME}: the first generation did not start: ${e.code ?? 'error'}: ${redactSecrets(e.message ?? '')}\n`);
  if (stopping) await stopping;
  await telemetry.shutdown();
  process.exit(1);
}
if (merge && (await supervisor.metricsUrl()) === undefined) {
  process.stderr.write(`${NAME}: the metrics endpoint ${env.prometheusHost}:${env.prometheusPort} cannot be bound; upgrades run without it\n`);
}
const trigger = supervisor.http ? `, POST ${supervisor.http.url} upgrades` : '';
say(`${NAME}: ${supervisor.workers().length} workers running ${supervisor.release.version} on ${supervisor.addresses.join(', ')} (pid ${process.pid}); SIGUSR2 upgrades${trigger}, SIGTERM stops`);
