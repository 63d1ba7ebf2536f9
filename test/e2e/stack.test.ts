/**
 * `npm run stack` as a user runs it (node scripts/stack.ts, on free ports so runs never collide):
 * it starts, prints its URLs and pids (each URL answers 200 on the installed Prometheus, each command
 * works as printed, no token or credential of the environment is printed), a config edit becomes a trace in Jaeger, a series in
 * Prometheus and a waterfall in `npm run reloads`; SIGTERM leaves no process and no port behind,
 * and neither does SIGKILL (its guard cleans up). It says which port is taken and how to build
 * missing binaries. Needs the binaries of scripts/setup-stack.sh.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type OtlpTraces, reloadTracesFrom } from '../../scripts/reload-traces.ts';
import { takenPorts } from '../../scripts/stack-processes.ts';
import { getJson, REPO_ROOT, stackBinaries } from './harness.ts';

const STACK = join(REPO_ROOT, 'scripts', 'stack.ts');
const RELOADS = join(REPO_ROOT, 'scripts', 'reloads.ts');
const run = promisify(execFile);
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'reloadscope-stack-test-'));
  dirs.push(dir);
  return dir;
}

/** A running `node scripts/stack.ts` with its output collected line by line. */
class StackRun {
  readonly child: ChildProcess;
  readonly out: string[] = [];
  readonly err: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: NodeJS.ProcessEnv = process.env, command = [process.execPath, STACK]) {
    this.child = spawn(command[0]!, [...command.slice(1), ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (into: string[]) => (chunk: Buffer) => {
      const text = (into.at(-1) === undefined || into.at(-1)!.endsWith('\n') ? '' : into.pop()!) + chunk.toString();
      into.push(...text.split(/(?<=\n)/));
    };
    this.child.stdout!.on('data', collect(this.out));
    this.child.stderr!.on('data', collect(this.err));
    this.exited = new Promise((ok) => this.child.once('exit', (code, signal) => ok({ code, signal })));
  }

  text(): string {
    return this.out.join('');
  }

  /** Waits for an output line matching `pattern` after the first `from` lines; returns its match. */
  async line(pattern: RegExp, from = 0, timeoutMs = 90_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const l of this.out.slice(from)) {
        const m = pattern.exec(l);
        if (m) return m;
      }
      if (this.child.exitCode !== null || Date.now() > deadline) {
        assert.fail(`no line matching ${pattern}; stdout:\n${this.text()}\nstderr:\n${this.err.join('')}`);
      }
      await sleep(100);
    }
  }

  /** The pids the command printed: name -> pid, the guard included. */
  async pids(): Promise<Map<string, number>> {
    const m = await this.line(/^ {2}pids +(.*)$/m);
    return new Map(m[1]!.trim().split(/\s+/).map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]));
  }
}

/** A process that exists and is not a zombie (an exited child nobody has reaped yet is not running). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  try {
    return readFileSync(stat, 'utf8').split(') ').at(-1)?.[0] !== 'Z';
  } catch {
    return false; // gone between the two checks
  }
}

/** After a failed test: nothing it started may stay on the machine (children lead their own group). */
function killLeftovers(pids: Map<string, number> | undefined): void {
  for (const [name, pid] of pids ?? []) {
    if (!isRunning(pid)) continue;
    try {
      process.kill(name === 'stack' ? pid : -pid, 'SIGKILL');
    } catch {}
  }
}

async function eventuallyNoneRunning(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isRunning);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(200);
    alive = alive.filter(isRunning);
  }
  return alive;
}

/** Saves like an editor does (write a temp file, rename it over), so no reload sees a half-written file. */
function save(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** Credentials in the environment a user starts the stack from: no line may show them. */
const MARKER = `mk${randomBytes(6).toString('hex')}`;
const MARKED_ENV = {
  OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${MARKER}`,
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: `x-api-key=${MARKER}`,
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://user:${MARKER}@127.0.0.1:9/v1/metrics`,
};

/**
 * The stack's own lines (its summary and the trace lines after each reload, not the service's
 * lines it relays): each `curl` command is run as printed, through sh, and must answer 200; each
 * other URL is fetched without following redirects and must answer 200, so a URL that only works
 * on another Prometheus version fails here.
 */
async function checkPrintedLinks(text: string): Promise<{ urls: number; commands: number }> {
  const own = text.split('\n').filter((l) => /^ {2}(?!pids)\S/.test(l) && !l.includes('│'));
  let urls = 0;
  let commands = 0;
  for (const line of own) {
    const command = /(curl -s .*)$/.exec(line)?.[1];
    if (command !== undefined) {
      const { stdout } = await run('sh', ['-c', `${command} -o /dev/null -w '%{http_code}'`]);
      assert.equal(stdout, '200', `${command}`);
      commands += 1;
      continue;
    }
    for (const [url] of line.matchAll(/https?:\/\/[^\s'·)]+/g)) {
      const res = await fetch(url, { redirect: 'manual' });
      await res.body?.cancel();
      assert.equal(res.status, 200, `${url} (printed in: ${line.trim()})`);
      urls += 1;
    }
  }
  return { urls, commands };
}

function portsIn(text: string): number[] {
  return [...new Set([...text.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])))];
}

describe('npm run stack', { timeout: 300_000 }, () => {
  test('starts everything, a reload reaches Jaeger, Prometheus and the terminal view; SIGTERM leaves nothing behind', async () => {
    stackBinaries('otelcol', 'jaeger', 'prometheus');
    const dir = tempDir();
    const config = join(dir, 'config.yaml');
    copyFileSync(join(REPO_ROOT, 'examples', 'config-service', 'config.yaml'), config);
    // A user's shell may hold OTLP credentials; the stack passes its environment on to the service.
    const stack = new StackRun(['--free-ports', '--scrape-interval', '1s', '--config', config], { ...process.env, ...MARKED_ENV });
    let pids: Map<string, number> | undefined;
    try {
      await stack.line(/^reloadscope stack ready in/m);
      pids = await stack.pids();
      assert.deepEqual([...pids.keys()].sort(), ['config-service', 'guard', 'jaeger', 'otelcol', 'prometheus', 'stack']);
      for (const [name, pid] of pids) assert.ok(isRunning(pid), `${name} (${pid}) runs`);
      const jaeger = (await stack.line(/^ {2}Jaeger +(http:\/\/127\.0\.0\.1:\d+)\/api\/v3\/services/m))[1]!;
      const prometheus = (await stack.line(/^ {2}Prometheus +.*?(http:\/\/127\.0\.0\.1:\d+)\//m))[1]!;
      const service = (await stack.line(/^ {2}service +(http:\/\/127\.0\.0\.1:\d+)\//m))[1]!;
      assert.match(stack.text(), /^ {2}last reload +curl -s http:\/\/127\.0\.0\.1:\d+\/api\/v3\/traces\/[0-9a-f]{32}$/m, 'the startup trace');
      assert.match(stack.text(), /^ {2}terminal +npm run reloads -- --jaeger http/m);
      assert.equal((await fetch(service)).status, 200);

      // Each version is scraped app -> Collector -> Prometheus while it is the active one (a single
      // look at the end would not show a series that outlives its version).
      const query = async (q: string) =>
        (await getJson<{ data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }>(`${prometheus}/api/v1/query?query=${encodeURIComponent(q)}`))
          .data.result;
      const sel = '{job="config-service",hotreload_target="app-config"}';
      const activeHashes = async () => (await query(`hotreload_config_info${sel}`)).map((r) => r.metric.hotreload_config_hash!);
      const until = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
        const giveUp = Date.now() + 60_000;
        for (;;) {
          const got = await probe();
          if (got !== undefined) return got;
          if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
          await sleep(500);
        }
      };
      const [startupHash] = await until('the startup version in Prometheus', async () => ((await activeHashes()).length > 0 ? activeHashes() : undefined));
      // Every URL it printed answers 200 as printed, and every command it printed works as printed.
      const printed = await checkPrintedLinks(stack.text());
      assert.ok(printed.urls >= 6 && printed.commands >= 3, JSON.stringify(printed));
      // The reload command reads the token from a file: no line shows it.
      const headerFile = /^ {2}reload +curl .*-H @(\S+) /m.exec(stack.text())?.[1];
      assert.ok(headerFile, 'the reload command names its header file');
      const token = /^Authorization: Bearer (\S+)$/m.exec(readFileSync(headerFile, 'utf8'))?.[1];
      assert.ok(token && token.length >= 32, 'a generated token');
      assert.ok(!stack.text().includes(token) && !stack.err.join('').includes(token), 'the token is printed');

      // A good edit, then a broken one: both are traces the command points at.
      const seen = stack.out.length;
      save(config, readFileSync(config, 'utf8').replace(/greeting: .*/, 'greeting: "Hi from the stack test"'));
      await stack.line(/^config-service │ reload app-config: success \(file\)/m, seen);
      const good = (await stack.line(/↳ trace of that success reload: curl -s (\S+\/api\/v3\/traces\/[0-9a-f]{32})$/m, seen))[1]!;
      const afterGood = await until('the edited version in Prometheus', async () => {
        const hashes = await activeHashes();
        return hashes.some((h) => h !== startupHash) ? hashes : undefined;
      });
      assert.equal(afterGood.length, 1, `one active version after one reload, not ${afterGood.length}: ${afterGood.join(' ')}`);
      const seenBad = stack.out.length;
      save(config, 'greeting: "unclosed\n');
      await stack.line(/^config-service │ reload app-config: failure \(file\)/m, seenBad);
      const bad = (await stack.line(/↳ trace of that failure reload: curl -s (\S+\/api\/v3\/traces\/[0-9a-f]{32})$/m, seenBad))[1]!;

      const [goodRun] = reloadTracesFrom(await getJson<OtlpTraces>(good));
      assert.equal(goodRun?.outcome, 'success');
      assert.equal(goodRun?.trigger, 'file');
      assert.deepEqual(goodRun?.stages.map((s) => s.stage), ['load', 'verify', 'switch', 'unload']);
      const [badRun] = reloadTracesFrom(await getJson<OtlpTraces>(bad));
      assert.equal(badRun?.outcome, 'failure');
      assert.equal(badRun?.errorType, 'parse_error');

      // The series made it app -> Collector -> Prometheus under the service's job.
      const expr = 'sum by (hotreload_outcome) (hotreload_reloads_total{job="config-service",hotreload_trigger="file"})';
      const deadline = Date.now() + 60_000;
      let byOutcome: Record<string, number> = {};
      const both = () => (byOutcome.success ?? 0) >= 1 && (byOutcome.failure ?? 0) >= 1;
      while (Date.now() < deadline && !both()) {
        const body = await getJson<{ data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }>(
          `${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`,
        );
        byOutcome = Object.fromEntries(body.data.result.map((r) => [r.metric.hotreload_outcome!, Number(r.value[1])]));
        await sleep(500);
      }
      assert.ok(both(), `hotreload_reloads_total by outcome: ${JSON.stringify(byOutcome)}`);

      // After the startup load, one good and one broken edit, the instance has one active version (the
      // good edit) and one newest candidate (the broken file), not an info series per version it had.
      const refused = await until('the broken edit as the newest candidate', async () => {
        const candidates = await query(`hotreload_candidate_info${sel}`);
        return candidates.some((r) => r.metric.error_type === 'parse_error') ? candidates : undefined;
      });
      assert.deepEqual(refused.map((r) => r.metric.error_type), ['parse_error'], 'one candidate_info: the broken edit');
      assert.deepEqual(await activeHashes(), afterGood, 'one config_info: the good edit, which stays active');

      // The terminal view against this Jaeger: a line per run with outcome and error.type, a bar per stage.
      const { stdout } = await run(process.execPath, [RELOADS, '--jaeger', jaeger, '--service', 'config-service', '--since', '10m']);
      const lines = stdout.trimEnd().split('\n');
      const headOf = (traceId: string) => lines.findIndex((l) => l.endsWith(`trace ${traceId}`));
      const g = headOf(goodRun!.traceId);
      assert.ok(g >= 0, stdout);
      assert.match(lines[g]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z {2}app-config {2}file +success +\d/);
      assert.deepEqual(
        lines.slice(g + 1, g + 5).map((l) => /^ {4}(\w+) +│[ █]+│ +[\d.]+ms$/.exec(l)?.[1]),
        ['load', 'verify', 'switch', 'unload'],
        stdout,
      );
      const b = headOf(badRun!.traceId);
      assert.ok(b >= 0, stdout);
      assert.match(lines[b]!, / {2}app-config {2}file +failure +parse_error +[\d.]+ms/);
      assert.match(lines[b + 1]!, /^ {4}load +✗ │[ █]+│ +[\d.]+ms {2}parse_error$/);
      assert.ok(!stdout.includes('\x1b['), 'no colour when stdout is not a terminal');
      assert.ok(g < b, 'oldest first');

      assert.doesNotMatch(stack.text(), /is not in Jaeger after/, 'every reload got its trace line');
      for (const line of `${stack.text()}${stack.err.join('')}`.split('\n')) assert.ok(!line.includes(MARKER), `a credential printed: ${line}`);

      // SIGTERM: it stops everything it started, guard included, and frees every port it printed.
      const ports = portsIn(stack.text());
      assert.ok(ports.length >= 6, `ports printed: ${ports}`);
      stack.child.kill('SIGTERM');
      const { code } = await stack.exited;
      assert.equal(code, 0, stack.err.join(''));
      assert.match(stack.text(), /stack: stopped; no process it started is running/);
      assert.deepEqual(await eventuallyNoneRunning([...pids.values()], 5_000), [], 'processes left running');
      assert.deepEqual(await takenPorts(ports), [], 'ports still bound');
      const logs = /logs in (\S+)\)/.exec(stack.text())?.[1];
      assert.ok(logs && !existsSync(logs), `run directory ${logs} removed`);
    } finally {
      stack.child.kill('SIGKILL');
      killLeftovers(pids);
    }
  });

  test('SIGKILL of the command: its guard stops every child within seconds', async () => {
    stackBinaries('otelcol', 'jaeger', 'prometheus');
    const stack = new StackRun(['--free-ports']);
    await stack.line(/^reloadscope stack ready in/m);
    const pids = await stack.pids();
    stack.child.kill('SIGKILL');
    await stack.exited;
    const left = await eventuallyNoneRunning([...pids.values()], 15_000);
    killLeftovers(pids);
    assert.deepEqual(left, [], 'processes left running');
    assert.deepEqual(await takenPorts(portsIn(stack.text())), [], 'ports still bound');
  });

  test('through npm: SIGTERM to `npm run stack` reaches the command, which stops everything', async () => {
    stackBinaries('otelcol', 'jaeger', 'prometheus');
    // npm runs the script line with `sh -c`; without `exec` in it, npm's SIGTERM ends that shell and
    // leaves the command running, orphaned.
    const stack = new StackRun(['--', '--free-ports'], process.env, ['npm', 'run', 'stack']);
    let pids: Map<string, number> | undefined;
    try {
      await stack.line(/^reloadscope stack ready in/m);
      pids = await stack.pids();
      stack.child.kill('SIGTERM');
      await stack.exited;
      const left = await eventuallyNoneRunning([...pids.values()], 15_000);
      assert.deepEqual(left, [], `processes left running; stdout:\n${stack.text()}`);
      assert.match(stack.text(), /stack: stopped; no process it started is running/);
    } finally {
      stack.child.kill('SIGKILL');
      killLeftovers(pids);
    }
  });

  test('a port that is taken: it says which, and starts nothing', async () => {
    stackBinaries('otelcol', 'jaeger', 'prometheus');
    const holder = createServer();
    await new Promise<void>((ok) => holder.listen(0, '127.0.0.1', ok));
    const port = (holder.address() as { port: number }).port;
    try {
      const stack = new StackRun(['--free-ports', '--port', `prometheus=${port}`]);
      const { code } = await stack.exited;
      assert.equal(code, 1);
      const err = stack.err.join('');
      assert.match(err, new RegExp(`port already in use: 127\\.0\\.0\\.1:${port} \\(prometheus: Prometheus UI and API\\)`));
      assert.match(err, /--port prometheus=N, or use --free-ports/);
      assert.doesNotMatch(stack.text(), /starting/);
    } finally {
      holder.close();
    }
  });

  test('a component that dies while starting: its log is shown and nothing else is left running', async () => {
    const { jaeger } = stackBinaries('jaeger', 'prometheus');
    const cache = tempDir();
    mkdirSync(join(cache, 'bin'));
    symlinkSync(jaeger, join(cache, 'bin', 'jaeger'));
    writeFileSync(join(cache, 'bin', 'otelcol-reloadscope'), '#!/bin/sh\necho "collector: bind: address already in use" >&2\nexit 1\n', { mode: 0o755 });
    const stack = new StackRun(['--free-ports'], { ...process.env, RELOADSCOPE_CACHE: cache });
    const { code } = await stack.exited;
    assert.equal(code, 1);
    const err = stack.err.join('');
    assert.match(err, /otelcol exited with code 1 while waiting for .*log:\n.*collector: bind: address already in use/s);
    const logs = /logs in (\S+)\)/.exec(stack.text())?.[1];
    assert.ok(logs && !existsSync(logs), 'run directory removed');
    const stopped = /stack: could not start: stopping ([\d, ]+)\n/.exec(stack.text())?.[1]?.split(', ').map(Number) ?? [];
    assert.equal(stopped.length, 2, `Jaeger and Prometheus were running: ${stack.text()}`);
    assert.deepEqual(await eventuallyNoneRunning(stopped, 5_000), []);
    assert.match(stack.text(), /stack: stopped; no process it started is running/);
  });

  test('binaries that are not built: it says how to build them', async () => {
    const stack = new StackRun(['--free-ports'], { ...process.env, RELOADSCOPE_CACHE: tempDir() });
    const { code } = await stack.exited;
    assert.equal(code, 1);
    assert.match(stack.err.join(''), /binaries missing: otelcol, jaeger .*Run `bash scripts\/setup-stack\.sh`/);
    assert.doesNotMatch(stack.text(), /starting/);
  });
});
