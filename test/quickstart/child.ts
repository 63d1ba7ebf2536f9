/**
 * Real child processes for the example tests: each runs in its own process group so that `npm`,
 * the shell it spawns and node all stop together, and every line it prints can be awaited.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';

export interface Child {
  readonly proc: ChildProcess;
  /** Every stdout and stderr line so far, in arrival order. */
  readonly lines: string[];
  /** Resolve with the first line (from index `from`) matching `pattern`; reject at the deadline. */
  waitFor(pattern: RegExp, options?: { from?: number; timeoutMs?: number }): Promise<RegExpExecArray>;
  /** Signal the whole process group (npm included: send SIGHUP to the app's own pid instead). */
  signal(signal: NodeJS.Signals): void;
  /** The output so far, for assertion messages. */
  output(): string;
  /** Every process of the group has closed its output, and the direct child has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function start(t: TestContext, command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Child {
  const proc = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const lines: string[] = [];
  let wake: Array<() => void> = [];
  const notify = () => {
    for (const w of wake) w();
    wake = [];
  };
  for (const stream of [proc.stdout!, proc.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      notify();
    });
  }
  // The group is gone when its last process closed our pipes: `npm` may exit (e.g. on SIGHUP)
  // while the node it started keeps running and printing.
  let done = false;
  const closed = (stream: NodeJS.ReadableStream) => new Promise<void>((resolve) => stream.once('close', resolve));
  const exitStatus = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const exited = Promise.all([closed(proc.stdout!), closed(proc.stderr!), exitStatus]).then(([, , status]) => {
    done = true;
    notify();
    return status;
  });
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (proc.pid !== undefined) process.kill(-proc.pid, sig);
    } catch {
      // The group is already gone.
    }
  };
  t.after(async () => {
    if (done) return;
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  });
  const output = () => lines.join('\n');
  return {
    proc,
    lines,
    signal,
    output,
    exited,
    async waitFor(pattern, { from = 0, timeoutMs = 30_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (let i = from; ; ) {
        for (; i < lines.length; i++) {
          const m = pattern.exec(lines[i]!);
          if (m) return m;
        }
        if (done) throw new Error(`process exited before printing ${pattern}; output:\n${output()}`);
        if (Date.now() > deadline) throw new Error(`no line matched ${pattern} within ${timeoutMs} ms; output:\n${output()}`);
        await new Promise<void>((resolve) => {
          wake.push(resolve);
          setTimeout(resolve, 200).unref();
        });
      }
    },
  };
}

export { eventually } from '../support/eventually.ts';

/**
 * The value of one Prometheus sample, selected by metric name and label values; undefined when the
 * series is absent. Parses the exposition text: every label must match exactly.
 */
export function sample(scrape: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of scrape.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const found = new Map([...line.slice(name.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) return Number(line.slice(close + 1).trim());
  }
  return undefined;
}

export async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`scrape ${url}: HTTP ${res.status}`);
  return res.text();
}

export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}
