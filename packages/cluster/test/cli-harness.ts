/**
 * `reloadscope-cluster` as a user runs it: a real child process with the documented flags and
 * environment, its output kept line by line, its workers found through `ps`, and everything it
 * started SIGKILLed after the test.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eventually, freePort, get } from './harness.ts';

export const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

export async function children(pid: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(pid)]).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0)
    .sort((a, b) => a - b);
}

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function scrape(port: number): Promise<string> {
  const s = await get(port, '/metrics');
  return s.body ?? '';
}

export function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').at(-1));
  }
  return undefined;
}

/** Make `@reloadscope/cluster` resolvable from the releases under `root`, as an app's own dependency. */
export async function installClusterPackage(root: string): Promise<void> {
  await mkdir(join(root, 'node_modules', '@reloadscope'), { recursive: true });
  await symlink(PACKAGE_DIR, join(root, 'node_modules', '@reloadscope', 'cluster'));
}

export interface CliOptions {
  /** Workers per generation (default 2). */
  workers?: number;
  args?: string[];
  env?: Record<string, string>;
  /** Worker telemetry (the CLI's default when OTEL_* allow it); false sets OTEL_SDK_DISABLED=true. */
  telemetry?: boolean;
  /** The HTTP trigger on a free port with a random token. */
  http?: boolean;
  /** Its own process group, so a signal can reach the supervisor and its workers at once (a terminal). */
  group?: boolean;
  /** Wait for the start-up line (default); false returns at once. */
  wait?: boolean;
}

export interface Cli {
  child: ChildProcess;
  port: number;
  metricsPort: number;
  /** stdout and stderr lines, in arrival order. */
  lines: string[];
  token: string;
  triggerPort: number;
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<RegExpExecArray>;
  /** POST /reload through the HTTP trigger: the run's summary. */
  upgrade(): Promise<{ outcome: string; version: string | null; error: { code: string; message: string } | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it printed so far, one string. */
  output(): string;
}

/** The CLI over `root/current` with its Prometheus endpoint (and trigger) on free ports; killed with its workers after the test. */
export async function startCli(t: TestContext, root: string, options: CliOptions = {}): Promise<Cli> {
  const [port, metricsPort, triggerPort] = [await freePort(), await freePort(), await freePort()];
  const token = randomBytes(16).toString('hex');
  const telemetry = options.telemetry ?? true;
  const child: ChildProcess = spawn(process.execPath, [CLI, '--release', join(root, 'current'), '--entry', 'server.mjs', '--workers', String(options.workers ?? 2), ...(options.args ?? [])], {
    env: {
      ...process.env,
      PORT: String(port),
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      RELOADSCOPE_RUNTIME_METRICS: 'false',
      ...(telemetry ? {} : { OTEL_SDK_DISABLED: 'true' }),
      ...(options.http ? { RELOADSCOPE_CLUSTER_HTTP_TOKEN: token, RELOADSCOPE_CLUSTER_HTTP_PORT: String(triggerPort) } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group === true,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.after(async () => {
    for (const pid of await children(child.pid!)) process.kill(pid, 'SIGKILL');
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on('line', (l) => lines.push(l));
  const waitFor = async (pattern: RegExp, from = 0, timeoutMs = 30_000) => {
    let found: RegExpExecArray | undefined;
    await eventually(
      () => {
        for (let i = from; i < lines.length && !found; i++) found = pattern.exec(lines[i]!) ?? undefined;
        return found !== undefined;
      },
      `a line matching ${pattern}; output so far:\n${lines.join('\n')}`,
      timeoutMs,
    );
    return found!;
  };
  const upgrade = async () => {
    const res = await fetch(`http://127.0.0.1:${triggerPort}/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    return (await res.json()) as Awaited<ReturnType<Cli['upgrade']>>;
  };
  const cli = { child, port, metricsPort, lines, token, triggerPort, waitFor, upgrade, exited, output: () => lines.join('\n') };
  if (options.wait !== false) await waitFor(/workers running/, 0, 60_000);
  return cli;
}
