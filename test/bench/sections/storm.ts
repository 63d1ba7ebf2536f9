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
/** Every storm arrives in this many bursts (the child process paces signals and writes the same way). */
const BURSTS = 100;

interface StormConfig {
  seq: number;
}

type StormKind = 'file' | 'signal' | 'api';

interface StormOutcome {
  kind: StormKind;
  requests: number;
  stormMs: number;
  runs: number;
  outcomes: Partial<Record<ReloadOutcome, number>>;
  debounceWindows: number;
  runsPerWindow: number;
  maxPending: number;
  longestRunMs: number;
  /** reload() requests served by a run: 1 per direct run, `coalesced` per follow-up run. */
  accounted: number;
  /** reload() requests made, when known (API calls, delivered signals). */
  requested: number | undefined;
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
  kind: StormKind,
  count: number,
  durationMs: number,
): Promise<StormOutcome> {
  const dir = tempDir(`storm-${kind}`);
  const file = join(dir, 'app.json');
  writeFileSync(file, JSON.stringify({ seq: -1 }));
  const target = `storm-${kind}`;
  const { reloads } = wiring.instrument({ probes: true });
  let runs = 0;
  let accounted = 0;
  let longestRunMs = 0;
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
      longestRunMs = Math.max(longestRunMs, result.durationMs);
      // A follow-up run executes for the `coalesced` requests that waited; any other run for one.
      accounted += result.coalesced > 0 ? result.coalesced : 1;
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
  const signalled = kind === 'signal';
  let signalsReceived = 0;
  const countSignal = () => {
    signalsReceived++;
  };
  if (signalled) process.on('SIGHUP', countSignal);
  const stop = sampler(wiring, target);

  let stormMs: number;
  let lastSeq: number;
  if (kind === 'api') {
    // In-process requests: BURSTS ticks of simultaneous calls, the file rewritten before every 100th.
    const pending: Array<Promise<ReloadResult>> = [];
    const t0 = Date.now();
    const perTick = Math.ceil(count / BURSTS);
    lastSeq = -1;
    for (let i = 0; i < count; ) {
      for (let k = 0; k < perTick && i < count; k++, i++) {
        if (i % 100 === 0 || i === count - 1) {
          writeFileSync(file, JSON.stringify({ seq: i }));
          lastSeq = i;
        }
        pending.push(watcher.reload({ trigger: 'api' }));
      }
      // Always yield between bursts, even when behind schedule: a burst is what arrives at once.
      await sleep(Math.max(0, t0 + ((i / perTick) * durationMs) / BURSTS - Date.now()));
    }
    stormMs = Date.now() - t0;
    await Promise.all(pending);
  } else {
    const r = await runChild([kind === 'file' ? 'file' : 'signal', file, String(count), String(durationMs)]);
    stormMs = r.endedAt - r.startedAt;
    lastSeq = r.lastSeq;
  }
  await settle(watcher, lastSeq, () => lastRunAt, kind === 'api' ? 300 : DEBOUNCE_MS * 3);
  const { maxPending, heapGrowthBytes } = await stop();
  const pendingAfter = await wiring.reader.total('hotreload.pending', { 'hotreload.target': target });
  if (signalled) process.off('SIGHUP', countSignal);
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
    longestRunMs,
    accounted,
    // Signals are debounced on purpose, so only programmatic requests must each be served.
    requested: kind === 'api' ? count : undefined,
    pendingAfter,
    heapGrowthBytes,
    ...(signalled ? { signalsReceived } : {}),
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

  const label: Record<StormKind, string> = {
    file: 'file changes (in-place writes, 2nd process)',
    signal: 'SIGHUP (2nd process)',
    api: 'config.reload() calls (in-process)',
  };
  const outcomeText = (o: StormOutcome) =>
    Object.entries(o.outcomes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  const rows = results.map((o) => ({
    measurement: `${o.requests.toLocaleString('en')} ${label[o.kind]} in ${o.stormMs} ms`,
    value: `${o.runs} runs (${outcomeText(o)})`,
    vsBaseline:
      o.kind === 'api'
        ? `${(o.runs / BURSTS).toFixed(1)} runs per burst (${BURSTS} bursts)`
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
          measured: `${(o.runs / BURSTS).toFixed(1)} (${o.runs} runs)`,
          met: o.runs / BURSTS <= 2,
        }
      : {
          name: `${o.kind} storm: runs per debounce window`,
          goal: '≤ 2',
          measured: `${o.runsPerWindow.toFixed(1)} (${o.runs} runs)`,
          met: o.runsPerWindow <= 2,
        },
    {
      name: `${o.kind} storm: pending bounded, final state = last write`,
      // Bounded = drained: every waiting request is folded into the next run (served = requests),
      // nothing is left waiting afterwards, and the last write wins.
      goal: 'every request ran or was coalesced; pending 0 after; active seq = last written',
      measured: `max pending ${o.maxPending} (longest run ${o.longestRunMs.toFixed(1)} ms); ${o.accounted}${o.requested === undefined ? '' : `/${o.requested}`} requests accounted; after ${o.pendingAfter}; seq ${o.finalSeq} vs ${o.lastSeq}`,
      met:
        o.pendingAfter === 0 &&
        (o.requested === undefined || o.accounted === o.requested) &&
        o.finalSeq === o.lastSeq &&
        o.finalHashMatches,
    },
  ]);
  return {
    id: 'storm',
    title: `5. Trigger storm: ${count.toLocaleString('en')} triggers in ~${durationMs} ms on one target (debounce ${DEBOUNCE_MS} ms, max-wait ${MAX_WAIT_MS} ms)`,
    rows,
    targets,
    data: { storms: results, debounceMs: DEBOUNCE_MS, maxWaitMs: MAX_WAIT_MS },
    notes: [
      'file events go through the watcher debounce (trailing, with max-wait); SIGHUP through the same debounce with a leading edge (one signal reloads at once); reload() calls are not debounced: core coalescing (one running + one queued, last request wins) bounds them',
      ...(options.quick ? ['quick mode runs the full storms (each is bounded to about a second)'] : []),
    ],
  };
}

runSection(storms);
