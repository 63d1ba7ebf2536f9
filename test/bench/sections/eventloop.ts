/**
 * Issue 6, item 6: event-loop delay of a process serving HTTP while it reloads every 100 ms,
 * with and without reloadscope. Each run is a fresh server process and a fresh load-generator
 * process on loopback; modes alternate across rounds, and the spread between rounds of the same
 * mode is the noise the difference is judged against.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nextMessage, spawnChild } from '../lib/children.ts';
import { configJson, tempDir } from '../lib/fixtures.ts';
import { runSection, type SectionOptions, type SectionResult } from '../lib/section.ts';
import { formatSummary, rotate, summarize } from '../lib/stats.ts';

const MODES = ['reloadscope', 'plain'] as const;
type Mode = (typeof MODES)[number];

interface ServerStats {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  reloads: number;
  failures: number;
}
interface LoadStats {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
}

async function measure(mode: Mode, file: string, durationMs: number): Promise<{ server: ServerStats; load: LoadStats }> {
  const server = spawnChild('eventloop-server.ts', [mode, file]);
  const { port } = await nextMessage<{ port: number }>(server, 'ready', 30_000);
  await new Promise((r) => setTimeout(r, 300)); // a few reloads before measuring (JIT warm)
  server.send({ type: 'start' });
  const load = spawnChild('eventloop-load.ts', [String(port), String(durationMs), '500000', '8']);
  const loadStats = await nextMessage<LoadStats>(load, undefined, durationMs + 30_000);
  server.send({ type: 'stop' });
  const { stats } = await nextMessage<{ stats: ServerStats }>(server, 'stats', 30_000);
  return { server: stats, load: loadStats };
}

async function eventLoop(options: SectionOptions): Promise<SectionResult> {
  const dir = tempDir('eventloop');
  const file = join(dir, 'app.json');
  writeFileSync(file, configJson(14 * 1024));
  const rounds = options.quick ? 1 : 3;
  const durationMs = options.quick ? 1_500 : 5_000;
  const runs: Record<Mode, Array<{ server: ServerStats; load: LoadStats }>> = { reloadscope: [], plain: [] };
  for (let round = 0; round < rounds; round++) {
    for (const mode of rotate(MODES, round)) {
      const r = await measure(mode, file, durationMs);
      if (r.server.failures > 0 || r.load.errors > 0) throw new Error(`${mode}: ${r.server.failures} reload failures, ${r.load.errors} request errors`);
      if (r.server.reloads < (durationMs / 100) * 0.5) throw new Error(`${mode}: only ${r.server.reloads} reloads in ${durationMs} ms`);
      runs[mode].push(r);
    }
  }
  const p99 = (m: Mode) => summarize(runs[m].map((r) => r.server.p99));
  const pick = (m: Mode, f: (r: { server: ServerStats; load: LoadStats }) => number) => summarize(runs[m].map(f));
  const diff = summarize(runs.reloadscope.map((r, i) => r.server.p99 - runs.plain[i]!.server.p99));
  // Noise: how far two runs of the SAME mode land apart; with one round, the histogram's 1 ms resolution.
  const noise = Math.max(1, p99('plain').max - p99('plain').min, p99('reloadscope').max - p99('reloadscope').min);
  const rows = MODES.map((m) => ({
    measurement: m === 'reloadscope' ? 'HTTP service + @reloadscope/config reload every 100 ms (full wiring + probes)' : 'HTTP service + hand reload every 100 ms, no OpenTelemetry',
    value: `p99 ${formatSummary(p99(m), 2)} ms`,
    vsBaseline: m === 'plain' ? 'baseline' : `${diff.median >= 0 ? '+' : ''}${formatSummary(diff, 2)} ms p99 (noise ±${noise.toFixed(2)} ms)`,
    note: `loop p50 ${formatSummary(pick(m, (r) => r.server.p50), 2)} / max ${formatSummary(pick(m, (r) => r.server.max), 1)} ms; ${formatSummary(pick(m, (r) => r.load.rps), 0)} req/s; client p99 ${formatSummary(pick(m, (r) => r.load.p99), 2)} ms; ${formatSummary(pick(m, (r) => r.server.reloads), 0)} reloads`,
  }));
  return {
    id: 'eventloop',
    title: `6. Event-loop delay under HTTP load while reloading every 100 ms (${rounds} round(s) × ${durationMs / 1000} s per mode, 8 keep-alive clients)`,
    rows,
    targets: [
      {
        name: 'event-loop p99 with reloadscope vs without',
        goal: 'no difference beyond noise',
        measured: `${diff.median >= 0 ? '+' : ''}${diff.median.toFixed(2)} ms (noise ±${noise.toFixed(2)} ms)`,
        met: diff.median <= noise,
      },
    ],
    data: { runs, p99DiffMs: diff, noiseMs: noise, durationMs, rounds },
    notes: [],
  };
}

runSection(eventLoop);
