/**
 * Reusable harness for tests that run the real telemetry stack (Collector, Jaeger v2, Prometheus) and
 * real services as child processes: free loopback ports, logs captured to files, readiness polling,
 * cleanup on every exit path, and the captured logs printed when something fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const COLLECTOR_DIR = join(REPO_ROOT, 'collector');

/** Where scripts/setup-stack.sh puts its binaries (outside the clone, so CI's clean clones reuse them). */
export function stackCacheDir(): string {
  return process.env.RELOADSCOPE_CACHE ?? join(homedir(), '.cache', 'reloadscope');
}

export interface StackBinaries {
  otelcol: string;
  jaeger: string;
  prometheus: string;
  promtool: string;
  alertmanager: string;
  helm: string;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Locates the named stack binaries (default: all) or throws one error naming what is missing and how to get it. */
export function stackBinaries<K extends keyof StackBinaries>(
  ...wanted: K[]
): Pick<StackBinaries, K> {
  const bin = join(stackCacheDir(), 'bin');
  const inCache = (file: string) => (existsSync(join(bin, file)) ? join(bin, file) : undefined);
  const locate: Record<keyof StackBinaries, () => string | undefined> = {
    otelcol: () => inCache('otelcol-reloadscope'),
    jaeger: () => inCache('jaeger'),
    prometheus: () => onPath('prometheus'),
    promtool: () => onPath('promtool'),
    alertmanager: () => onPath('prometheus-alertmanager'),
    helm: () => inCache('helm'),
  };
  const names = wanted.length > 0 ? wanted : (Object.keys(locate) as K[]);
  const found: Partial<StackBinaries> = {};
  const missing: string[] = [];
  for (const name of names) {
    const path = locate[name]();
    if (path === undefined) missing.push(name);
    else found[name] = path;
  }
  if (missing.length > 0) {
    throw new Error(
      `telemetry stack binaries missing: ${missing.join(', ')} (looked in ${bin} and PATH). ` +
        'Run `bash scripts/setup-stack.sh` once to build/install them.',
    );
  }
  return found as Pick<StackBinaries, K>;
}

/** Distinct free TCP ports on 127.0.0.1, held open together so no two are the same. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import('node:net').Server>((ok, fail) => {
          const server = createServer();
          server.once('error', fail);
          server.listen(0, '127.0.0.1', () => ok(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected server address');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  /** null while running, else the exit description. */
  exitStatus(): string | null;
  log(): string;
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * One stack run: a temp dir for logs/data and the processes started in it. `close()` stops them all
 * (SIGTERM, then SIGKILL) and removes the dir; `printLogs()` dumps every captured log to stderr.
 */
export class Harness {
  readonly dir: string;
  readonly processes: ManagedProcess[] = [];
  #closed = false;

  constructor(prefix = 'reloadscope-e2e-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
  }

  start(name: string, command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
    const logPath = join(this.dir, `${name}.log`);
    const fd = openSync(logPath, 'a');
    let exit: string | null = null;
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    child.on('exit', (code, signal) => {
      exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
    });
    child.on('error', (err) => {
      exit = `failed to start: ${err.message}`;
    });
    const managed: ManagedProcess = {
      name,
      child,
      logPath,
      exitStatus: () => exit,
      log: () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : ''),
    };
    this.processes.push(managed);
    return managed;
  }

  /**
   * Polls `probe` until it returns a value other than undefined. Fails early, with the log, if one of
   * `watch` exits meanwhile; fails with `what` and the last probe error at the deadline.
   */
  async waitFor<T>(
    what: string,
    probe: () => Promise<T | undefined>,
    watch: ManagedProcess[] = [],
    { timeoutMs = 60_000, intervalMs = 250 }: WaitOptions = {},
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      for (const p of watch) {
        const status = p.exitStatus();
        if (status !== null) {
          throw new Error(`${p.name} ${status} while waiting for ${what}; log:\n${tail(p.log(), 60)}`);
        }
      }
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() > deadline) {
        const reason = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
      }
      await sleep(intervalMs);
    }
  }

  /** Waits until `url` answers 2xx. */
  waitForHttp(what: string, url: string, watch: ManagedProcess[], options?: WaitOptions): Promise<true> {
    return this.waitFor(
      what,
      async () => {
        const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        return res.ok ? true : undefined;
      },
      watch,
      options,
    );
  }

  printLogs(): void {
    for (const p of this.processes) {
      process.stderr.write(
        `\n===== ${p.name} (${p.exitStatus() ?? 'running'}) ${p.logPath} =====\n${tail(p.log(), 120)}\n`,
      );
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.processes.map(stop));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function stop(p: ManagedProcess): Promise<void> {
  if (p.exitStatus() !== null || p.child.exitCode !== null) return;
  const exited = new Promise<void>((ok) => p.child.once('exit', () => ok()));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export function tail(text: string, lines: number): string {
  const all = text.split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

/** GET a URL and parse JSON, failing with the status and body text on non-2xx. */
export async function getJson<T = unknown>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url} -> ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

export async function getText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url} -> ${res.status}: ${text.slice(0, 500)}`);
  return text;
}

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
    job.static_configs = [{ targets: [targets[job.job_name]] }];
  }
  return config;
}
