/**
 * Issue 6, item 5: trigger storms on one target. 10,000 file changes (in-place writes from a
 * second process), 10,000 SIGHUPs (from a second process), and 10,000 programmatic reload()
 * requests, each within about one second, against @reloadscope/config with the full wiring.
 * Reported: runs executed (vs the file watcher's debounce windows), the highest
 * `hotreload.pending` seen while it lasted, heap growth, and whether the final active config is
 * the last one written.
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { type ConfigWatcher, watchConfig } from '@reloadscope/config';
import type { ReloadOutcome, ReloadResult } from '@reloadscope/core';
import { tempDir } from '../lib/fixtures.ts';
import { fullWiring, type Wiring } from '../lib/otel.ts';
import { runSection, type SectionOptions, type SectionResult } from '../lib/section.ts';
import { formatBytes } from '../lib/stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const DEBOUNCE_MS = 200;
const MAX_WAIT_MS = 2_000;
/** The programmatic storm arrives in this many bursts of simultaneous requests. */
const API_BURSTS = 100;

interface StormConfig {
  seq: number;
}

interface StormOutcome {
  kind: string;
  requests: number;
  stormMs: number;
  runs: number;
  outcomes: Partial<Record<ReloadOutcome, number>>;
  debounceWindows: number;
  runsPerWindow: number;
  maxPending: number;
  pendingAfter: number;
  heapGrowthBytes: number;
  signalsReceived?: number;
  lastSeq: number;
  finalSeq: number;
  finalHashMatches: boolean;
}

/** Samples `hotreload.pending` and heap while a storm lasts. */
function sampler(wiring: Wiring, target: string) {
  let maxPending = 0;
  let maxHeap = getHeapStatistics().used_heap_size;
  const heapBefore = maxHeap;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      maxPending = Math.max(maxPending, await wiring.reader.total('hotreload.pending', { 'hotreload.target': target }));
      maxHeap = Math.max(maxHeap, getHeapStatistics().used_heap_size);
      await sleep(5);
    }
  })();
  return async () => {
    stopped = true;
    await done;
    return { maxPending, heapGrowthBytes: maxHeap - heapBefore };
  };
}

function runChild(args: string[]): Promise<{ sent: number; lastSeq: number; startedAt: number; endedAt: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, 'storm-child.ts'), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: { sent: number; lastSeq: number; startedAt: number; endedAt: number } | undefined;
    child.on('message', (m: typeof result) => {
      result = m;
    });
    child.on('error', reject);
    child.on('exit', (code) => (result && code === 0 ? resolve(result) : reject(new Error(`storm-child exited ${code}`))));
  });
}

/** Wait until the last write is active and no run has started for `quietMs` (bounded). */
async function settle(watcher: ConfigWatcher<StormConfig>, lastSeq: number, lastRunAt: () => number, quietMs: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (watcher.current.seq === lastSeq && Date.now() - lastRunAt() >= quietMs) return;
    await sleep(25);
  }
}

async function storm(
  wiring: Wiring,
  kind: 'file' | 'signal' | 'api',
  count: number,
  durationMs: number,
): Promise<StormOutcome> {
  const dir = tempDir(`storm-${kind}`);
  const file = join(dir, 'app.json');
  writeFileSync(file, JSON.stringify({ seq: -1 }));
  const target = `storm-${kind}`;
  const { reloads } = wiring.instrument({ probes: true });
  let runs = 0;
  let lastRunAt = Date.now();
  const outcomes: Partial<Record<ReloadOutcome, number>> = {};
  reloads.addObserver({
    runStarted: (run) => {
      if (run.trigger === 'startup') return;
      runs++;
      lastRunAt = Date.now();
    },
    runEnded: (run, result: ReloadResult) => {
      if (run.trigger === 'startup') return;
      outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
      lastRunAt = Date.now();
    },
  });
  const watcher = await watchConfig<StormConfig>({
    path: file,
    format: 'json',
    instrumentation: reloads,
    target,
    watch: kind === 'file' ? { debounceMs: DEBOUNCE_MS, maxWaitMs: MAX_WAIT_MS } : false,
    signal: kind === 'signal' ? 'SIGHUP' : false,
  });
  let signalsReceived = 0;
  const countSignal = () => {
    signalsReceived++;
  };
  if (kind === 'signal') process.on('SIGHUP', countSignal);
  const stop = sampler(wiring, target);

  let stormMs: number;
  let lastSeq: number;
  if (kind === 'api') {
    // In-process requests: API_BURSTS ticks of simultaneous calls, the file rewritten before every 100th.
    const pending: Array<Promise<ReloadResult>> = [];
    const t0 = Date.now();
    const perTick = Math.ceil(count / API_BURSTS);
    lastSeq = -1;
    for (let i = 0; i < count; ) {
      for (let k = 0; k < perTick && i < count; k++, i++) {
        if (i % 100 === 0 || i === count - 1) {
          writeFileSync(file, JSON.stringify({ seq: i }));
          lastSeq = i;
        }
        pending.push(watcher.reload({ trigger: 'api' }));
      }
      const wait = t0 + ((i / perTick) * durationMs) / API_BURSTS - Date.now();
      if (wait > 0) await sleep(wait);
    }
    stormMs = Date.now() - t0;
    await Promise.all(pending);
  } else {
    const r = await runChild([kind, file, String(count), String(durationMs)]);
    stormMs = r.endedAt - r.startedAt;
    lastSeq = r.lastSeq;
  }
  await settle(watcher, lastSeq, () => lastRunAt, kind === 'file' ? DEBOUNCE_MS * 3 : 300);
  const { maxPending, heapGrowthBytes } = await stop();
  const pendingAfter = await wiring.reader.total('hotreload.pending', { 'hotreload.target': target });
  if (kind === 'signal') process.off('SIGHUP', countSignal);
  const finalSeq = watcher.current.seq;
  const finalHashMatches = watcher.hash === createHash('sha256').update(readFileSync(file)).digest('hex');
  await watcher.close();

  const debounceWindows = Math.max(1, Math.ceil((stormMs + DEBOUNCE_MS) / MAX_WAIT_MS));
  return {
    kind,
    requests: count,
    stormMs,
    runs,
    outcomes,
    debounceWindows,
    runsPerWindow: runs / debounceWindows,
    maxPending,
    pendingAfter,
    heapGrowthBytes,
    ...(kind === 'signal' ? { signalsReceived } : {}),
    lastSeq,
    finalSeq,
    finalHashMatches,
  };
}

async function storms(options: SectionOptions): Promise<SectionResult> {
  const wiring = fullWiring();
  const count = 10_000;
  const durationMs = 1_000;
  const results: StormOutcome[] = [];
  for (const kind of ['file', 'signal', 'api'] as const) results.push(await storm(wiring, kind, count, durationMs));
  await wiring.shutdown();

  const label = { file: 'file changes (in-place writes, 2nd process)', signal: 'SIGHUP (2nd process)', api: 'config.reload() calls (in-process)' };
  const outcomeText = (o: StormOutcome) =>
    Object.entries(o.outcomes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  const rows = results.map((o) => ({
    measurement: `${o.requests.toLocaleString('en')} ${label[o.kind as keyof typeof label]} in ${o.stormMs} ms`,
    value: `${o.runs} runs (${outcomeText(o)})`,
    vsBaseline:
      o.kind === 'api'
        ? `${(o.runs / API_BURSTS).toFixed(1)} runs per burst (${API_BURSTS} bursts)`
        : `${o.runsPerWindow.toFixed(1)} runs per debounce window (${o.debounceWindows} × ${MAX_WAIT_MS} ms max-wait)`,
    note: `max pending ${o.maxPending}, after ${o.pendingAfter}; heap +${formatBytes(o.heapGrowthBytes)}; final seq ${o.finalSeq}/${o.lastSeq}${o.finalHashMatches ? ' (hash = file)' : ' (HASH ≠ FILE)'}${o.signalsReceived !== undefined ? `; ${o.signalsReceived} signals delivered` : ''}`,
  }));
  const targets = results.flatMap((o) => [
    o.kind === 'api'
      ? {
          // Programmatic requests are never debounced by contract: each burst of concurrent
          // requests must become at most one running + one coalesced follow-up run.
          name: 'api storm: runs per burst of concurrent requests (100 bursts)',
          goal: '≤ 2 (one running + one coalesced)',
          measured: `${(o.runs / API_BURSTS).toFixed(1)} (${o.runs} runs)`,
          met: o.runs / API_BURSTS <= 2,
        }
      : {
          name: `${o.kind} storm: runs per debounce window`,
          goal: '≤ 2',
          measured: `${o.runsPerWindow.toFixed(1)} (${o.runs} runs)`,
          met: o.runsPerWindow <= 2,
        },
    {
      name: `${o.kind} storm: pending bounded, final state = last write`,
      goal: 'pending back to 0, max ≪ requests; active seq = last written',
      measured: `max ${o.maxPending}/${o.requests}, after ${o.pendingAfter}; seq ${o.finalSeq} vs ${o.lastSeq}`,
      met: o.pendingAfter === 0 && o.maxPending < o.requests / 20 && o.finalSeq === o.lastSeq && o.finalHashMatches,
    },
  ]);
  return {
    id: 'storm',
    title: `5. Trigger storm: ${count.toLocaleString('en')} triggers in ~${durationMs} ms on one target (debounce ${DEBOUNCE_MS} ms, max-wait ${MAX_WAIT_MS} ms)`,
    rows,
    targets,
    data: { storms: results, debounceMs: DEBOUNCE_MS, maxWaitMs: MAX_WAIT_MS },
    notes: [
      'file events go through the watcher debounce (trailing, with max-wait); SIGHUP and reload() calls do not: each delivered signal calls reload(), and core coalescing (one running + one queued, last request wins) is the only bound',
      ...(options.quick ? ['quick mode runs the full storms (each is bounded to about a second)'] : []),
    ],
  };
}

runSection(storms);
