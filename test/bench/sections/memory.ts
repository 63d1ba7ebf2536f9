/**
 * Issue 6, item 3: memory. Run by run.ts with --expose-gc. Heap used after full GCs, before and
 * after 100k instrumented reloads (full wiring + probes), and a deliberately leaking target that
 * `hotreload.retained_versions` must report (with a clean target beside it that must read 0).
 *
 * The bench keeps `gc` to itself and hides it from the probes: with gc exposed the probes run a
 * full GC at the start and end of every reload (exact heap deltas, by design), which is not how
 * a production process runs. That mode's cost is measured separately at the end.
 */
import { getHeapStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { sha256Hex } from '@reloadscope/core';
import { turnOfTheLoop } from '../lib/bench.ts';
import { fullWiring } from '../lib/otel.ts';
import { runSection, type SectionOptions, type SectionResult } from '../lib/section.ts';
import { formatBytes } from '../lib/stats.ts';

const exposed = (globalThis as { gc?: () => void }).gc;
if (typeof exposed !== 'function') throw new Error('memory section needs --expose-gc');
const gc: () => void = exposed;
const hideGc = () => {
  (globalThis as { gc?: unknown }).gc = undefined;
};
const showGc = () => {
  (globalThis as { gc?: unknown }).gc = gc;
};
hideGc();

const HASHES = [sha256Hex('a'), sha256Hex('b')];

interface Version {
  n: number;
  routes: string[];
}

/** Several full GCs with turns of the event loop between them, so finalizers and observers run. */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(20);
  }
  return getHeapStatistics().used_heap_size;
}

function stagesFor(onUnload: (previous: Version) => void, versionSize: number) {
  let n = 0;
  let active: Version | undefined;
  return {
    load: async (): Promise<Version> => ({ n: n++, routes: Array.from({ length: versionSize }, (_, i) => `r${i}`) }),
    verify: async () => {},
    switch: async (c: Version) => {
      const previous = active;
      active = c;
      return previous;
    },
    unload: async (previous: Version | undefined) => {
      if (previous) onUnload(previous);
    },
    identify: (c: Version) => ({ hash: HASHES[c.n & 1]! }),
  };
}

async function heapAfterReloads(quick: boolean) {
  const wiring = fullWiring();
  const { reloads, probes } = wiring.instrument({ probes: true });
  const stages = stagesFor(() => {}, 8);
  const request = { target: 'steady', trigger: 'api' as const };
  const reloadMany = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const r = await reloads.reload(request, stages);
      if (r.outcome !== 'success') throw new Error(`steady reload ended ${r.outcome}`);
      if (i % 20 === 19) await turnOfTheLoop(); // let deferred probe work run, as in a live process
    }
  };
  await reloadMany(2_000); // warm-up: JIT, instrument series, span processor queue at steady state
  await wiring.tracerProvider.forceFlush();
  await wiring.reader.collect();
  const before = await settledHeap();
  const count = quick ? 10_000 : 100_000;
  const t0 = performance.now();
  await reloadMany(count);
  const seconds = (performance.now() - t0) / 1000;
  await wiring.tracerProvider.forceFlush();
  await wiring.reader.collect();
  const after = await settledHeap();
  const recorded = await wiring.reader.total('hotreload.reloads', { 'hotreload.target': 'steady', 'hotreload.outcome': 'success' });
  if (recorded !== count + 2_000) throw new Error(`hotreload.reloads recorded ${recorded}, expected ${count + 2_000}`);
  const retained = await wiring.reader.total('hotreload.retained_versions', { 'hotreload.target': 'steady' });
  void probes;
  await wiring.shutdown();
  return { count, before, after, growth: after - before, perReloadMicroseconds: (seconds * 1e6) / count, retained };
}

async function leakDetection() {
  const wiring = fullWiring();
  const { reloads } = wiring.instrument({ probes: { retainedGraceMs: 200 } });
  const leaked: Version[] = [];
  let leakyUnloads = 0;
  let cleanUnloads = 0;
  const leaky = stagesFor((previous) => {
    leaked.push(previous); // the bug being detected: the old version stays reachable
    leakyUnloads++;
  }, 2_000);
  const clean = stagesFor(() => {
    cleanUnloads++;
  }, 2_000);
  const reloadsEach = 20;
  for (let i = 0; i < reloadsEach; i++) {
    await reloads.reload({ target: 'leaky', trigger: 'api' }, leaky);
    await reloads.reload({ target: 'clean', trigger: 'api' }, clean);
  }
  // Past the grace period, then full GCs (as a production process eventually runs them).
  await sleep(300);
  const deadline = Date.now() + 15_000;
  let leakyCount = 0;
  let cleanCount = 0;
  while (Date.now() < deadline) {
    await settledHeap();
    leakyCount = await wiring.reader.total('hotreload.retained_versions', { 'hotreload.target': 'leaky' });
    cleanCount = await wiring.reader.total('hotreload.retained_versions', { 'hotreload.target': 'clean' });
    if (leakyCount >= leakyUnloads) break;
    await sleep(100);
  }
  const heapDelta = async (target: string) => {
    const { resourceMetrics } = await wiring.reader.collect();
    for (const sm of resourceMetrics.scopeMetrics) {
      for (const m of sm.metrics) {
        if (m.descriptor.name !== 'hotreload.heap.delta') continue;
        const dp = m.dataPoints.find((p) => p.attributes['hotreload.target'] === target);
        const v = dp?.value as { sum?: number; count: number } | undefined;
        if (v) return { sum: v.sum ?? 0, count: v.count };
      }
    }
    return { sum: 0, count: 0 };
  };
  const leakyHeap = await heapDelta('leaky');
  const cleanHeap = await heapDelta('clean');
  await wiring.shutdown();
  return { reloadsEach, leakyUnloads, cleanUnloads, leakyCount, cleanCount, leakedKept: leaked.length, leakyHeap, cleanHeap };
}

/** The cost of the probes' opt-in exact mode (exactHeap: a full GC before and after each run). */
async function exposedGcCost() {
  const wiring = fullWiring();
  const hidden = wiring.instrument({ probes: true }).reloads;
  const stages = stagesFor(() => {}, 8);
  const time = async (count: number, target: string, reloads: typeof hidden) => {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      await reloads.reload({ target, trigger: 'api' }, stages);
      if (i % 20 === 19) await turnOfTheLoop();
    }
    return ((performance.now() - t0) * 1000) / count;
  };
  await time(200, 'gc-hidden', hidden);
  const hiddenUs = await time(500, 'gc-hidden', hidden);
  showGc();
  const shown = wiring.instrument({ probes: { exactHeap: true } }).reloads; // exact mode needs `gc`, read when created
  await time(20, 'gc-shown', shown);
  const shownUs = await time(200, 'gc-shown', shown);
  hideGc();
  await wiring.shutdown();
  return { hiddenUs, shownUs };
}

async function memory(options: SectionOptions): Promise<SectionResult> {
  const steady = await heapAfterReloads(options.quick);
  const leak = await leakDetection();
  const gcMode = await exposedGcCost();
  const mib = 1024 * 1024;
  const detected = leak.leakyCount === leak.leakyUnloads && leak.cleanCount === 0;
  return {
    id: 'memory',
    title: '3. Memory (child process with --expose-gc; heap used after full GCs)',
    rows: [
      {
        measurement: `heap before → after ${steady.count.toLocaleString('en')} instrumented reloads`,
        value: `${formatBytes(steady.before)} → ${formatBytes(steady.after)}`,
        vsBaseline: `growth ${formatBytes(steady.growth)}${steady.growth < 0 ? ' (shrank: warm-up garbage freed)' : ''}`,
        note: `${steady.perReloadMicroseconds.toFixed(1)} µs/reload incl. probes; retained_versions ${steady.retained}`,
      },
      {
        measurement: `leaking target: ${leak.leakyUnloads} unloaded versions kept reachable`,
        value: `retained_versions = ${leak.leakyCount}`,
        vsBaseline: `clean target: ${leak.cleanCount}`,
        note: `heap.delta sum leaky ${formatBytes(leak.leakyHeap.sum)} vs clean ${formatBytes(leak.cleanHeap.sum)} over ${leak.reloadsEach} runs`,
      },
      {
        measurement: 'probes exact mode (gc exposed: full GC before and after each run)',
        value: `${gcMode.shownUs.toFixed(0)} µs/reload`,
        vsBaseline: `${(gcMode.shownUs / gcMode.hiddenUs).toFixed(0)}× the default mode (${gcMode.hiddenUs.toFixed(1)} µs)`,
        note: 'only when the app itself runs with --expose-gc',
      },
    ],
    targets: [
      {
        name: `heap growth after ${steady.count.toLocaleString('en')} reloads`,
        goal: '< 1 MiB',
        measured: formatBytes(steady.growth),
        met: steady.growth < mib,
      },
      {
        name: 'leaking target reported by retained_versions',
        goal: `= unloaded-but-reachable versions (${leak.leakyUnloads}), clean target 0`,
        measured: `${leak.leakyCount} (clean ${leak.cleanCount})`,
        met: detected,
      },
    ],
    data: { steady, leak, exposedGcMode: gcMode },
    notes: options.quick ? ['quick mode runs 10,000 reloads instead of 100,000'] : [],
  };
}

runSection(memory);
