/**
 * Issue 12: zero-downtime reloads side by side with `pm2 reload`. Same app (`reload-app.cjs`),
 * same 4 workers, the same keep-alive load (8 clients, test/support/http-load.ts) through a
 * steady phase and then N reloads, each started once the previous one finished. Each process
 * manager runs in its own child (`reload-side.ts`); the load and the clock stay here.
 *
 * Every wait is bounded, and the PM2 side runs with a fresh PM2_HOME: after it (or on any error)
 * every process whose environment carries that PM2_HOME is SIGKILLed, so no daemon or worker
 * outlives the section. Quick mode (CI) runs only the reloadscope side: PM2's startup is too
 * slow and variable for a harness check.
 */
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, load, type Sample } from '../../support/http-load.ts';
import { nextMessage, spawnChild } from '../lib/children.ts';
import { tempDir } from '../lib/fixtures.ts';
import { runSection, type SectionOptions, type SectionResult } from '../lib/section.ts';
import { median, quantile } from '../lib/stats.ts';

const CLIENTS = 8;
const SIDES = ['reloadscope', 'pm2'] as const;
type Side = (typeof SIDES)[number];

interface SideResult {
  side: Side;
  requests: number;
  failed: number;
  failures: Record<string, number>;
  p99SteadyMs: number;
  p99ReloadMs: number;
  ratio: number;
  reloadWallMs: number[];
}

/** Processes whose environment has `PM2_HOME=<home>`: the no-daemon God, its workers, anything they left. */
function pidsWithPm2Home(home: string): number[] {
  const needle = `PM2_HOME=${home}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (`${readFileSync(`/proc/${entry}/environ`, 'latin1')}\0`.includes(needle)) pids.push(Number(entry));
    } catch {
      // gone already, or not ours to read
    }
  }
  return pids;
}

function killPm2Home(home: string): number {
  const pids = pidsWithPm2Home(home);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited between the scan and the kill
    }
  }
  return pids.length;
}

const p99 = (samples: readonly Sample[]) => quantile(samples.map((s) => s.ended - s.started), 0.99);

async function measure(side: Side, appDir: string, reloads: number, steadyMs: number): Promise<SideResult> {
  const port = await freePort();
  const home = side === 'pm2' ? tempDir('pm2-home') : undefined;
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), RELOAD_APP_DIR: appDir, ...(home ? { PM2_HOME: home } : {}) };
  const child = spawnChild('reload-side.ts', [side], env, side === 'pm2' ? 'ignore' : 'inherit');
  // The hard bound of the whole side: nothing below may hold the bench longer than this.
  const bound = setTimeout(() => child.kill('SIGKILL'), 30_000 + reloads * 20_000);
  const traffic = { current: undefined as ReturnType<typeof load> | undefined };
  try {
    await nextMessage(child, 'ready', 40_000);
    traffic.current = load(port, CLIENTS, steadyMs + reloads * 20_000 + 5_000);
    const steadyFrom = performance.now();
    await sleep(steadyMs);
    const steadyUntil = performance.now();
    const windows: Array<[number, number]> = [];
    for (let i = 1; i <= reloads; i++) {
      process.stderr.write(`${side}: reload ${i}/${reloads}\n`);
      const from = performance.now();
      child.send({ type: 'reload', i });
      const reply = await nextMessage<{ error?: string }>(child, 'reloaded', 20_000);
      if (reply.error) throw new Error(`${side} reload ${i}: ${reply.error}`);
      windows.push([from, performance.now()]);
      await sleep(300);
    }
    await traffic.current.stop();
    const samples = traffic.current.samples;
    const failures: Record<string, number> = {};
    for (const s of samples) {
      const why = s.error ?? (s.status !== undefined && (s.status < 200 || s.status > 299) ? `HTTP ${s.status}` : undefined);
      if (why) failures[why] = (failures[why] ?? 0) + 1;
    }
    const steady = samples.filter((s) => s.started >= steadyFrom && s.started < steadyUntil);
    const during = samples.filter((s) => windows.some(([a, b]) => s.started >= a && s.started < b));
    const p99SteadyMs = p99(steady);
    const p99ReloadMs = p99(during);
    return {
      side,
      requests: samples.length,
      failed: Object.values(failures).reduce((a, b) => a + b, 0),
      failures,
      p99SteadyMs,
      p99ReloadMs,
      ratio: p99ReloadMs / p99SteadyMs,
      reloadWallMs: windows.map(([a, b]) => b - a),
    };
  } finally {
    await traffic.current?.stop();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'stop' });
      await Promise.race([exited, sleep(15_000)]);
      child.kill('SIGKILL');
    }
    clearTimeout(bound);
    if (home) {
      const left = killPm2Home(home);
      if (left > 0) process.stderr.write(`pm2: killed ${left} leftover process(es) of PM2_HOME ${home}\n`);
    }
  }
}

async function section({ quick }: SectionOptions): Promise<SectionResult> {
  const reloads = quick ? 2 : 10;
  const steadyMs = quick ? 1500 : 5000;
  const appDir = tempDir('reload-app');
  copyFileSync(join(import.meta.dirname, 'reload-app.cjs'), join(appDir, 'server.cjs'));
  const results: SideResult[] = [];
  const notes: string[] = [];
  for (const side of SIDES) {
    if (side === 'pm2' && quick) {
      process.stderr.write('pm2: skipped in quick mode (its daemon is too slow and variable for CI)\n');
      notes.push('PM2 side skipped in quick mode.');
      continue;
    }
    results.push(await measure(side, appDir, reloads, steadyMs));
  }
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  const rows = results.flatMap((r) => [
    { measurement: `${r.side}: requests / failed`, value: `${r.requests} / ${r.failed}`, vsBaseline: '', note: Object.entries(r.failures).map(([k, v]) => `${k} ×${v}`).join(', ') },
    { measurement: `${r.side}: p99 steady`, value: ms(r.p99SteadyMs), vsBaseline: '', note: `${CLIENTS} keep-alive clients, 4 workers` },
    { measurement: `${r.side}: p99 during reloads`, value: ms(r.p99ReloadMs), vsBaseline: `${r.ratio.toFixed(2)}×`, note: `${reloads} reloads` },
    { measurement: `${r.side}: reload wall time (median)`, value: ms(median(r.reloadWallMs)), vsBaseline: '', note: `min ${ms(Math.min(...r.reloadWallMs))}, max ${ms(Math.max(...r.reloadWallMs))}` },
  ]);
  const ours = results.find((r) => r.side === 'reloadscope')!;
  const pm2 = results.find((r) => r.side === 'pm2');
  const targets = [
    { name: 'failed requests during reloads (reloadscope)', goal: '0', measured: String(ours.failed), met: ours.failed === 0 },
    { name: 'p99 during reloads vs steady (reloadscope)', goal: '≤ 1.5×', measured: `${ours.ratio.toFixed(2)}×`, met: ours.ratio <= 1.5 },
    ...(pm2 ? [{ name: 'failed requests during reloads (pm2, reported)', goal: 'as measured', measured: String(pm2.failed), met: undefined }] : []),
  ];
  // A harness self-check: the load must actually have run through the reloads.
  for (const r of results) if (r.requests < reloads * 10) throw new Error(`${r.side}: only ${r.requests} requests, the load did not run`);
  return { id: 'reload-vs-pm2', title: `11. Zero-downtime reload vs pm2 reload (${reloads} reloads, 4 workers)`, rows, targets, data: { clients: CLIENTS, workers: 4, reloads, steadyMs, sides: results }, notes };
}

runSection(section);
