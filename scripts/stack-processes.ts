/**
 * Running the telemetry stack's processes, shared by `npm run stack` (scripts/stack.ts) and the
 * end-to-end tests (test/e2e/harness.ts): where the binaries are, free loopback ports, children with
 * captured logs, readiness polling, and a stop that leaves nothing running.
 *
 * Every child runs in its own process group (spawned detached), for two reasons: Ctrl-C in a terminal
 * reaches only the stack command, which then stops the children in order instead of all of them
 * dying at once; and a group can be killed whole. A guard (a tiny `sh`, see GUARD) holds a pipe from
 * this process: when the pipe closes without the "done" line, because this process was SIGKILLed or
 * crashed, the guard kills every group it was told about (SIGTERM, then SIGKILL after 5 s) and
 * removes the run directory. So not even SIGKILL of the command leaves a child behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

export const REPO_ROOT = resolve(import.meta.dirname, '..');
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
  /** Only for the fleet tests (Debian prometheus-alertmanager). */
  alertmanager: string;
  /** Only for the chart tests (built by setup-stack.sh with `go install`). */
  helm: string;
  /** Only for the mixin tests (go-jsonnet, built by setup-stack.sh with `go install`). */
  jsonnet: string;
}

/** What the stack itself runs: the default of stackBinaries(). */
const STACK: ReadonlyArray<keyof StackBinaries> = ['otelcol', 'jaeger', 'prometheus', 'promtool'];

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Locates the named stack binaries (default: the stack's four) or throws one error naming what is missing and how to get it. */
export function stackBinaries<K extends keyof StackBinaries>(...wanted: K[]): Pick<StackBinaries, K> {
  const bin = join(stackCacheDir(), 'bin');
  const inCache = (file: string) => (existsSync(join(bin, file)) ? join(bin, file) : undefined);
  const locate: Record<keyof StackBinaries, () => string | undefined> = {
    otelcol: () => inCache('otelcol-reloadscope'),
    jaeger: () => inCache('jaeger'),
    prometheus: () => onPath('prometheus'),
    promtool: () => onPath('promtool'),
    alertmanager: () => onPath('prometheus-alertmanager'),
    helm: () => inCache('helm'),
    jsonnet: () => inCache('jsonnet'),
  };
  const names = wanted.length > 0 ? wanted : (STACK as K[]);
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
        'Run `bash scripts/setup-stack.sh` once to build/install them (10-15 minutes on 2 cores; needs Go >= 1.24).',
    );
  }
  return found as Pick<StackBinaries, K>;
}

function listen(port: number): Promise<Server> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok(server));
  });
}

const closeAll = (servers: Server[]) => Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));

/** Distinct free TCP ports on 127.0.0.1, held open together so no two are the same. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => listen(0)));
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected server address');
    return address.port;
  });
  await closeAll(servers);
  return ports;
}

/** The ports of `ports` that cannot be bound on 127.0.0.1 right now (something else listens there). */
export async function takenPorts(ports: number[]): Promise<number[]> {
  const taken: number[] = [];
  const held: Server[] = [];
  for (const port of ports) {
    try {
      held.push(await listen(port));
    } catch {
      taken.push(port);
    }
  }
  await closeAll(held);
  return taken;
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

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called with each line the process writes (stdout and stderr); the log file still gets every line. */
  onLine?: (line: string) => void;
}

/**
 * Reads pids, one a line; "done" means the parent stopped them itself. End of input without "done"
 * means the parent died: kill each pid's process group, wait up to 5 s, SIGKILL what is left, and
 * remove the run directory ($1). `kill -SIG -PID` without `--`: dash's kill takes no `--`.
 */
const GUARD = `
pids=
while read -r line; do
  [ "$line" = done ] && exit 0
  pids="$pids $line"
done
for pid in $pids; do kill -TERM "-$pid" 2>/dev/null; done
i=0
while [ $i -lt 25 ]; do
  alive=
  for pid in $pids; do kill -0 "-$pid" 2>/dev/null && alive="$alive $pid"; done
  [ -z "$alive" ] && break
  pids=$alive
  i=$((i + 1))
  sleep 0.2
done
for pid in $pids; do kill -KILL "-$pid" 2>/dev/null; done
rm -rf -- "$1"
`;

/**
 * One stack run: a temp dir for logs/data and the processes started in it. `close()` stops them all
 * (SIGTERM to each process group, then SIGKILL after 10 s) and removes the dir; `printLogs()` dumps
 * every captured log to stderr.
 */
export class StackProcesses {
  readonly dir: string;
  readonly processes: ManagedProcess[] = [];
  readonly guard: ChildProcess;
  #closed = false;

  constructor(prefix = 'reloadscope-e2e-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.guard = spawn('/bin/sh', ['-c', GUARD, 'reloadscope-stack-guard', this.dir], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    // Neither the guard nor its pipe may keep this process alive.
    this.guard.unref();
    (this.guard.stdin as (Writable & { unref?: () => void }) | null)?.unref?.();
    this.guard.stdin?.on('error', () => {}); // a guard that is gone already cannot be told anything
  }

  /** Pids of the processes started here that have not exited (the guard not included). */
  runningPids(): number[] {
    return this.processes.filter((p) => p.exitStatus() === null && p.child.pid !== undefined).map((p) => p.child.pid!);
  }

  start(name: string, command: string, args: string[], options: StartOptions = {}): ManagedProcess {
    const logPath = join(this.dir, `${name}.log`);
    let exit: string | null = null;
    let child: ChildProcess;
    const spawnOptions = { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? process.env, detached: true };
    if (options.onLine) {
      child = spawn(command, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
      const log = createWriteStream(logPath, { flags: 'a' });
      for (const stream of [child.stdout!, child.stderr!]) {
        createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
          log.write(`${line}\n`);
          options.onLine?.(line);
        });
      }
      child.once('close', () => log.end());
    } else {
      const fd = openSync(logPath, 'a');
      child = spawn(command, args, { ...spawnOptions, stdio: ['ignore', fd, fd] });
      closeSync(fd);
    }
    child.on('exit', (code, signal) => {
      exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
    });
    child.on('error', (err) => {
      exit = `failed to start: ${err.message}`;
    });
    if (child.pid !== undefined) this.guard.stdin?.write(`${child.pid}\n`);
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
      process.stderr.write(`\n===== ${p.name} (${p.exitStatus() ?? 'running'}) ${p.logPath} =====\n${tail(p.log(), 120)}\n`);
    }
  }

  #printed = false;

  /** Runs a test step; the first step that fails prints every process log (once), then it rethrows. */
  async step<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!this.#printed) this.printLogs();
      this.#printed = true;
      throw err;
    }
  }

  /** Stops every process (`force`: SIGKILL at once), tells the guard it is done, removes the dir. */
  async close({ force = false } = {}): Promise<void> {
    if (this.#closed && !force) return;
    this.#closed = true;
    await Promise.all(this.processes.map((p) => stop(p, force)));
    this.guard.stdin?.end('done\n');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function killGroup(p: ManagedProcess, signal: NodeJS.Signals): void {
  try {
    // The child leads its own group (detached): kill the group, so nothing it spawned survives it.
    process.kill(-p.child.pid!, signal);
  } catch {
    p.child.kill(signal);
  }
}

async function stop(p: ManagedProcess, force: boolean): Promise<void> {
  if (p.child.pid === undefined || p.exitStatus() !== null || p.child.exitCode !== null) return;
  const exited = new Promise<void>((ok) => p.child.once('exit', () => ok()));
  killGroup(p, force ? 'SIGKILL' : 'SIGTERM');
  const timer = setTimeout(() => killGroup(p, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export function tail(text: string, lines: number): string {
  const all = text.split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

/** GET a URL and parse JSON, failing with the status and body text on non-2xx. */
export async function getJson<T = unknown>(url: string): Promise<T> {
  return JSON.parse(await getText(url)) as T;
}

export async function getText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url} -> ${res.status}: ${text.slice(0, 500)}`);
  return text;
}
