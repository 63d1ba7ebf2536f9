/**
 * `npm run stack`: the whole telemetry stack on loopback, without Docker, in one command. It starts
 * the built Collector, Jaeger v2 and Prometheus (with the bundled rules) from the shipped configs,
 * changed only through environment overrides and a run directory (scripts/stack-wiring.ts), on the
 * port plan of scripts/stack-ports.ts, then examples/config-service wired to all of them. It prints
 * every URL, the pids it started, and after each reload a ready-to-paste query for its trace.
 *
 * Ctrl-C, SIGTERM or SIGHUP stop everything it started (a second Ctrl-C kills at once); if it is
 * SIGKILLed, the guard of scripts/stack-processes.ts stops the children within ~5 s.
 *
 *   npm run stack -- [--free-ports] [--port NAME=N]... [--config PATH] [--scrape-interval 5s]
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { prometheusUi } from './prometheus-ui.ts';
import { fetchReloadTraces, type ReloadTrace, searchUrl, traceUrl } from './reload-traces.ts';
import { defaultPlan, freePlan, isPortName, PORT_NAMES, PORTS, type PortPlan, planProblems, takenInPlan } from './stack-ports.ts';
import { type ManagedProcess, REPO_ROOT, StackProcesses, stackBinaries } from './stack-processes.ts';
import {
  COLLECTOR_CONFIG,
  collectorEnv,
  instrumentedAppEnv,
  JAEGER_CONFIG,
  jaegerEnv,
  LOOPBACK,
  preparePrometheus,
} from './stack-wiring.ts';

const SERVICE = 'config-service';
const SERVICE_DIR = join(REPO_ROOT, 'examples', SERVICE);
const USAGE = `usage: npm run stack -- [--free-ports] [--port NAME=N]... [--config PATH] [--scrape-interval DURATION]
  --free-ports       pick free loopback ports instead of the defaults below
  --port NAME=N      move one port (names below); repeatable
  --config PATH      the config file config-service watches (default examples/config-service/config.yaml)
  --scrape-interval  how often the Collector scrapes the service and Prometheus the Collector (default 5s)
ports (scripts/stack-ports.ts):
${PORT_NAMES.map((n) => `  ${n.padEnd(19)} ${String(PORTS[n].port).padStart(5)}  ${PORTS[n].what}`).join('\n')}`;

function fail(message: string): never {
  console.error(`stack: ${message}`);
  process.exit(1);
}

let values: {
  'free-ports'?: boolean;
  port?: string[];
  config?: string;
  'scrape-interval'?: string;
  help?: boolean;
};
try {
  values = parseArgs({
    options: {
      'free-ports': { type: 'boolean' },
      port: { type: 'string', multiple: true },
      config: { type: 'string' },
      'scrape-interval': { type: 'string', default: '5s' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (err) {
  fail(`${(err as Error).message}\n${USAGE}`);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const scrapeInterval = values['scrape-interval']!;
if (!/^\d+(ms|s|m)$/.test(scrapeInterval)) fail(`--scrape-interval must look like 500ms, 5s or 1m, got ${scrapeInterval}`);
const configPath = resolve(values.config ?? join(SERVICE_DIR, 'config.yaml'));
if (!existsSync(configPath)) fail(`--config ${configPath} does not exist`);

const plan: PortPlan = values['free-ports'] ? await freePlan() : defaultPlan();
for (const spec of values.port ?? []) {
  const [name, port] = spec.split('=');
  if (name === undefined || !isPortName(name) || !/^\d+$/.test(port ?? '')) {
    fail(`--port ${spec}: expected NAME=N with NAME one of ${PORT_NAMES.join(', ')}`);
  }
  plan[name] = Number(port);
}
const problems = planProblems(plan);
if (problems.length > 0) fail(`the port plan does not work: ${problems.join('; ')}`);

let bin: ReturnType<typeof stackBinaries<'otelcol' | 'jaeger' | 'prometheus'>>;
try {
  bin = stackBinaries('otelcol', 'jaeger', 'prometheus');
} catch (err) {
  fail((err as Error).message);
}

const taken = await takenInPlan(plan);
if (taken.length > 0) {
  const which = taken.map((n) => `${LOOPBACK}:${plan[n]} (${n}: ${PORTS[n].what})`);
  fail(
    `port${taken.length > 1 ? 's' : ''} already in use: ${which.join(', ')}. ` +
      `Stop what listens there (ss -ltnp 'sport = :${plan[taken[0]!]}' shows it), move it with --port ${taken[0]}=N, or use --free-ports.`,
  );
}

const url = (name: keyof PortPlan, path = '/') => `http://${LOOPBACK}:${plan[name]}${path}`;
const jaegerUrl = `http://${LOOPBACK}:${plan.jaegerQuery}`;
const startedAt = new Date();
// Pasteable for a day: the time range Jaeger requires, from the start of this stack.
const search = searchUrl(jaegerUrl, { service: SERVICE, start: startedAt, end: new Date(startedAt.getTime() + 86_400_000) });
const procs = new StackProcesses('reloadscope-stack-');
let stopping: Promise<void> | undefined;
let ready = false;

function shutdown(code: number, why: string): void {
  if (stopping) {
    console.log('stack: killing what is left');
    void procs.close({ force: true });
    return;
  }
  console.log(`\nstack: ${why}: stopping ${procs.runningPids().join(', ') || 'nothing'}`);
  stopping = procs.close().then(() => {
    console.log('stack: stopped; no process it started is running');
    process.exit(code);
  });
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => shutdown(0, signal));

function watchUnexpectedExit(p: ManagedProcess): void {
  p.child.once('exit', () => {
    if (stopping) return;
    console.error(`stack: ${p.name} ${p.exitStatus()}; its last log lines:\n${p.log().split('\n').slice(-30).join('\n')}`);
    shutdown(1, `${p.name} stopped`);
  });
}

console.log(`stack: starting Jaeger, the Collector, Prometheus and ${SERVICE} on ${LOOPBACK} (logs in ${procs.dir})`);
const jaeger = procs.start('jaeger', bin.jaeger, [`--config=${JAEGER_CONFIG}`], { env: { ...process.env, ...jaegerEnv(plan) } });
const collector = procs.start('otelcol', bin.otelcol, [`--config=${COLLECTOR_CONFIG}`], {
  env: { ...process.env, ...collectorEnv(plan, { job: SERVICE, scrapeInterval }) },
});
const prometheus = procs.start('prometheus', bin.prometheus, preparePrometheus(join(procs.dir, 'prometheus'), plan, { scrapeInterval }));
const stack = [jaeger, collector, prometheus];
const token = randomBytes(16).toString('hex');
// The reload command reads the token from a file of the run directory (0700, removed at the end):
// a printed token would be in every terminal log and screen share of the stack.
const reloadHeader = join(procs.dir, 'reload-authorization.header');
writeFileSync(reloadHeader, `Authorization: Bearer ${token}\n`, { mode: 0o600 });
let service: ManagedProcess | undefined;
// Reload lines the service printed, traces of them found in Jaeger, the newest one's start.
let reloadLines = 0;
let tracesFound = 0;
let lastTraceStart = 0n;
let lookup: Promise<unknown> = Promise.resolve();

try {
  await Promise.all([
    procs.waitForHttp('Jaeger query API', `${jaegerUrl}/api/v3/services`, stack),
    procs.waitForHttp('Collector health_check', url('collectorHealth'), stack),
    procs.waitForHttp('Prometheus ready', url('prometheus', '/-/ready'), stack),
  ]);
  // Only now: the first load's trace needs a Collector to go to.
  service = procs.start(SERVICE, process.execPath, ['--import', '@reloadscope/register', join(SERVICE_DIR, 'src', 'server.ts')], {
    env: {
      ...process.env,
      ...instrumentedAppEnv(plan, SERVICE),
      HOST: LOOPBACK,
      PORT: String(plan.service),
      CONFIG_PATH: configPath,
      RELOAD_TOKEN: token,
    },
    onLine: (line) => {
      console.log(`${SERVICE} │ ${line}`);
      if (!line.startsWith('reload ')) return;
      reloadLines += 1;
      if (ready) void catchUpWithReloads(15_000);
    },
  });
  await procs.waitForHttp(SERVICE, url('service', '/healthz'), [...stack, service]);
} catch (err) {
  if (!stopping) {
    console.error(`stack: ${(err as Error).message}`);
    shutdown(1, 'could not start');
  }
  await new Promise(() => {}); // shutdown() exits
}
for (const p of [...stack, service!]) watchUnexpectedExit(p);
const [firstTrace, prometheusPages] = await Promise.all([catchUpWithReloads(20_000), prometheusUi(url('prometheus'))]);
ready = true;

const seconds = ((Date.now() - startedAt.getTime()) / 1000).toFixed(1);
const row = (label: string, text: string) => `  ${label.padEnd(12)} ${text}`;
console.log(
  [
    '',
    `reloadscope stack ready in ${seconds}s. Ctrl-C stops everything.`,
    row('service', `${url('service')}   ${SERVICE}; edit ${configPath} to reload it`),
    row('reload', `curl -s -X POST -H @${reloadHeader} ${url('service', '/-/reload')}`),
    row('app metrics', url('appMetrics', '/metrics')),
    row('Collector', `OTLP ${LOOPBACK}:${plan.collectorOtlpHttp} (HTTP), ${LOOPBACK}:${plan.collectorOtlpGrpc} (gRPC) · health ${url('collectorHealth')} · series ${url('collectorProm', '/metrics')}`),
    row('Prometheus', `alerts ${prometheusPages.alerts} · try ${prometheusPages.graph('hotreload_reloads_total')}`),
    row('Jaeger', `${jaegerUrl}/api/v3/services (query API only: this Jaeger is built from source without its UI; the UI is in docker compose)`),
    row('last reload', firstTrace ? `curl -s ${traceUrl(jaegerUrl, firstTrace.traceId)}` : 'not in Jaeger yet; the search below finds it'),
    row('all reloads', `curl -s '${search}'`),
    row('terminal', `npm run reloads -- --jaeger ${jaegerUrl} --service ${SERVICE}`),
    row('pids', `stack=${process.pid} ${procs.processes.map((p) => `${p.name}=${p.child.pid}`).join(' ')} guard=${procs.guard.pid}`),
    '',
  ].join('\n'),
);

/**
 * Prints the trace query of each reload the service reported that is not printed yet, as its trace
 * reaches Jaeger; serialised, so two reloads in a row print in order. Returns the newest found.
 */
function catchUpWithReloads(timeoutMs: number): Promise<ReloadTrace | undefined> {
  const next = lookup.then(async () => {
    const deadline = Date.now() + timeoutMs;
    let newest: ReloadTrace | undefined;
    while (tracesFound < reloadLines && Date.now() < deadline && !stopping) {
      const runs = await fetchReloadTraces(jaegerUrl, { service: SERVICE, start: startedAt, limit: 20 }).catch(() => []);
      const fresh = runs.filter((r) => r.startNs > lastTraceStart).reverse();
      for (const r of fresh) {
        if (ready) console.log(`  ↳ trace of that ${r.outcome} reload: curl -s ${traceUrl(jaegerUrl, r.traceId)}`);
        lastTraceStart = r.startNs;
        newest = r;
      }
      tracesFound += fresh.length;
      if (tracesFound < reloadLines) await new Promise((ok) => setTimeout(ok, 300));
    }
    if (ready && tracesFound < reloadLines && !stopping) {
      console.log(`  ↳ its trace is not in Jaeger after ${timeoutMs / 1000}s; search: curl -s '${search}'`);
    }
    return newest;
  });
  lookup = next;
  return next;
}
