/**
 * `npm run demo`: a scripted tour of every reload outcome, in well under a minute. It starts the
 * service (as `npm start` does) on a temporary copy of config.yaml, then edits that copy, sends
 * signals and calls the HTTP trigger, and waits for the service's own reload line after each step.
 * Nothing is simulated: each outcome comes from the service's real code paths.
 *
 * It ends with a summary read from the service's own metrics endpoint, stops the service and exits
 * 0 (1 when a step did not get its outcome). `--keep-running` keeps the service up after the
 * summary, to look at its endpoint; Ctrl-C then stops both. PORT (default: any free port) and
 * OTEL_EXPORTER_PROMETHEUS_PORT (default 9464) pick its ports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DEMO_STEPS, type DemoStepKey } from './demo-steps.ts';

interface ReloadLine {
  outcome: string;
  trigger: string;
  text: string;
}

let keepRunning = false;
try {
  keepRunning = parseArgs({ options: { 'keep-running': { type: 'boolean' } } }).values['keep-running'] === true;
} catch (err) {
  console.error(`demo: ${(err as Error).message}\nusage: npm run demo [-- --keep-running]`);
  process.exit(2);
}

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'reloadscope-demo-'));
const configPath = join(dir, 'config.yaml');
const token = randomBytes(16).toString('hex');
let service: ChildProcess | undefined;
let tourDone = false;
/** Set when the demo itself stops the service at the end: its exit is then expected. */
let stopping = false;

function cleanUp(): void {
  service?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
process.once('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));

// An upstream that accepts connections and never answers: a reload that waits for it can only end
// at its deadline.
const blackHole = createServer(() => {});
await new Promise<void>((done) => blackHole.listen(0, '127.0.0.1', done));
blackHole.unref();
const blackHolePort = (blackHole.address() as { port: number }).port;

// Versions of the config, derived from the real config.yaml so that its comments stay in place.
const original = await readFile(join(root, 'config.yaml'), 'utf8');
function set(text: string, key: RegExp, value: string): string {
  if (!key.test(text)) throw new Error(`demo: config.yaml has no ${key.source} line any more (git checkout it, then retry)`);
  return text.replace(key, `$1 ${value}`);
}
const good = set(set(original, /^(greeting:).*$/m, 'Bonjour'), /^(\s+shout:).*$/m, 'true');
const versions = {
  good,
  broken: set(good, /^(greeting:).*$/m, '"Bonjour, world'),
  schemaViolation: set(good, /^(\s+requestsPerMinute:).*$/m, '-5'),
  portChange: set(good, /^(\s+port:).*$/m, '3999'),
  slowUpstream: `${good}\nupstream:\n  url: http://127.0.0.1:${blackHolePort}/healthz\n`,
  restored: set(original, /^(greeting:).*$/m, 'Hello again'),
};

/** Write like an editor doing an atomic save: a new inode replaces the old one. */
async function save(text: string): Promise<void> {
  const tmp = join(dir, `.config.yaml.${process.pid}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, configPath);
}

await writeFile(configPath, original);
service = spawn(process.execPath, ['--import', '@reloadscope/register', 'src/server.ts'], {
  cwd: root,
  env: {
    ...process.env,
    CONFIG_PATH: configPath,
    PORT: process.env.PORT ?? '0',
    RELOAD_TOKEN: token,
    RELOAD_TIMEOUT_MS: '2000',
    OTEL_SERVICE_NAME: process.env.OTEL_SERVICE_NAME ?? 'config-service',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const serviceExited = new Promise<void>((done) => {
  service!.once('exit', (code, signal) => {
    service = undefined;
    done();
    if (stopping) return;
    console.error(`demo: the service exited (${signal ?? code})${tourDone ? '' : ' before the tour ended'}`);
    process.exit(tourDone ? 0 : 1);
  });
});

const reloadLines: ReloadLine[] = [];
let waiters: Array<() => void> = [];
let serviceUrl: string | undefined;
let metricsUrl: string | undefined;
createInterface({ input: service.stdout! }).on('line', (line) => {
  console.log(`    service │ ${line}`);
  const reload = /^reload \S+: (\w+) \((\w+)\)/.exec(line);
  if (reload) reloadLines.push({ outcome: reload[1]!, trigger: reload[2]!, text: line });
  serviceUrl ??= /listening on (http:\S+)/.exec(line)?.[1];
  metricsUrl ??= /^\s+metrics: (http:\S+)/.exec(line)?.[1];
  for (const wake of waiters) wake();
  waiters = [];
});

async function until<T>(what: () => string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`demo: gave up waiting for ${what()}`);
    await new Promise<void>((wake) => {
      waiters.push(wake);
      setTimeout(wake, 250).unref();
    });
  }
}

async function greeting(): Promise<string> {
  const body = (await (await fetch(serviceUrl!)).json()) as { message: string; config: string };
  return `"${body.message}" (config ${body.config})`;
}

const acts: Record<DemoStepKey, () => unknown> = {
  good: () => save(versions.good),
  sighup: () => service!.kill('SIGHUP'),
  broken: () => save(versions.broken),
  schemaViolation: () => save(versions.schemaViolation),
  portChange: () => save(versions.portChange),
  slowUpstream: () => save(versions.slowUpstream),
  restored: () => save(versions.restored),
  http: async () => {
    const anonymous = await fetch(new URL('/-/reload', serviceUrl), { method: 'POST' });
    console.log(`    without the token: HTTP ${anonymous.status}`);
    await fetch(new URL('/-/reload', serviceUrl), { method: 'POST', headers: { authorization: `Bearer ${token}` } }).then((r) => r.text());
  },
};
const steps = DEMO_STEPS.map((step) => ({ ...step, act: acts[step.key] }));

try {
  await until(() => 'the service to start', () => (reloadLines.length > 0 && serviceUrl ? true : undefined), 30_000);
  console.log(`\nreloadscope demo: ${steps.length} reloads that cover all five outcomes. GET ${serviceUrl} answers ${await greeting()}`);
  for (const [i, step] of steps.entries()) {
    console.log(`\n[${i + 1}/${steps.length}] ${step.title}: ${step.why}`);
    const seen = reloadLines.length;
    await step.act();
    // One save can raise more than one file event, so a run may repeat the previous step's outcome
    // or say `unchanged`: wait for this step's outcome rather than for the next line.
    const line = await until(
      () => `a ${step.outcome} (${step.trigger}) reload; saw: ${reloadLines.slice(seen).map((l) => l.outcome).join(', ') || 'none'}`,
      () => reloadLines.slice(seen).find((l) => l.trigger === step.trigger && l.outcome === step.outcome),
    );
    console.log(`    → ${line.outcome}; GET / answers ${await greeting()}`);
  }

  tourDone = true;
  console.log('\nTour complete. Every outcome, as Prometheus sees it:');
  const scrape = metricsUrl ? await fetch(metricsUrl).then((r) => r.text()) : '';
  for (const series of scrape.split('\n').filter((l) => l.startsWith('hotreload_reloads_total{') && !l.endsWith(' 0'))) {
    const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(series)?.[1];
    console.log(`    hotreload_reloads_total trigger=${label('hotreload_trigger')} outcome=${label('hotreload_outcome')} → ${series.split(' ').at(-1)}`);
  }
  if (!metricsUrl) console.log('    (not served: OTEL_EXPORTER_PROMETHEUS_PORT is taken or metrics are off; the service said why above)');
  await whereToLook();
  if (keepRunning) {
    console.log('\nThe service keeps running on the last config (--keep-running); Ctrl-C stops it.');
  } else {
    stopping = true;
    service?.kill('SIGTERM');
    await serviceExited;
    console.log(`\nDemo finished: ${steps.length} reloads, every outcome seen; the service is stopped. npm run demo -- --keep-running keeps it up to explore.`);
    process.exit(0);
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}

/**
 * Where the reloads can be seen after the demo. The service's own URLs are printed only when it
 * keeps running: once it is stopped they would answer nothing.
 */
async function whereToLook(): Promise<void> {
  console.log('\nWhere to look:');
  if (keepRunning) {
    console.log(`  service  ${serviceUrl}`);
    if (metricsUrl) console.log(`  metrics  ${metricsUrl}   (hotreload_reloads_total, hotreload_stage_duration_seconds_bucket, hotreload_config_info …)`);
  }
  const jaeger = await homePage('http://localhost:16686/');
  const grafana = await answers('http://localhost:3001/');
  const name = process.env.OTEL_SERVICE_NAME ?? 'config-service';
  const terminalView = `npm run reloads -- --service ${name}`;
  // Jaeger built from source (npm run stack) serves a placeholder page instead of its UI.
  const hasUi = jaeger !== undefined && !jaeger.includes('not the Jaeger UI');
  if (jaeger !== undefined && process.env.OTEL_EXPORTER_OTLP_ENDPOINT) {
    if (hasUi) console.log(`  traces   http://localhost:16686/search?service=${name}   (one trace per reload, a span per stage; in a terminal: ${terminalView})`);
    else console.log(`  traces   ${terminalView}   (one line per reload, a waterfall of its stages; this Jaeger has no UI, its query API is http://localhost:16686/api/v3/)`);
  } else if (jaeger !== undefined) console.log('  traces   Jaeger runs: rerun with OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 to send it these reloads');
  else console.log('  traces   start the stack (npm run stack; the Jaeger UI comes with docker compose -f collector/docker-compose.yml up) and set OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318');
  if (grafana) console.log('  Grafana  http://localhost:3001/ (dashboard "reloadscope / Hot reloads", fed by the stack\'s own config-service)');
}

/** The page at `url`, or undefined when nothing answers there. */
async function homePage(url: string): Promise<string | undefined> {
  try {
    return await (await fetch(url, { signal: AbortSignal.timeout(700) })).text();
  } catch {
    return undefined;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(700) });
    return true;
  } catch {
    return false;
  }
}
