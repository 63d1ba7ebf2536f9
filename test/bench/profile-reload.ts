/**
 * A steady loop of one variant, for CPU profiles of the hot path:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof test/bench/profile-reload.ts <variant> [seconds]
 * variants: full | noprobes | disabled | hand | config | config-noprobes | config-disabled | config-hand
 * (config-hand: section 2's target baseline, readFile + sha256 + JSON.parse + swap hand-instrumented)
 * Then summarise: node test/bench/profile-summary.ts /tmp/prof/<file>.cpuprofile
 *
 * Counting instead of timing (deterministic, so it can be compared on a loaded machine):
 *   node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 test/bench/profile-reload.ts <variant> count
 * prints, per reload after a warm-up, the async resources created (async_hooks init, by type),
 * the context.with() frames entered, and the heap bytes allocated; with `alloc` instead of `count`,
 * where those bytes are allocated (sampled, garbage included), per function, top 40.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHook } from 'node:async_hooks';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { context } from '@opentelemetry/api';
import { watchConfig } from '@reloadscope/config';
import { sha256Hex } from '@reloadscope/core';
import { turnOfTheLoop } from './lib/bench.ts';
import { configJson, tempDir } from './lib/fixtures.ts';
import { handConfigStages, handInstrumentedReloader } from './lib/hand-instrumented.ts';
import { fullWiring } from './lib/otel.ts';

const [variant = 'full', secondsArg = '5'] = process.argv.slice(2);
const seconds = Number(secondsArg);
const VERSIONS = ['a', 'b'].map((v, n) => ({ identity: { hash: sha256Hex(v), version: v }, payload: { n } }));
type Candidate = (typeof VERSIONS)[number];

/** RELOADSCOPE_BENCH_PROBES_OFF=heap,resources switches single probes off (full, config), to attribute the probes' cost. */
function probesWithout(): { probes: Record<string, false> } {
  const off = (process.env.RELOADSCOPE_BENCH_PROBES_OFF ?? '').split(',').filter(Boolean);
  return { probes: Object.fromEntries(off.map((name) => [name, false])) };
}

async function main(): Promise<void> {
  const wiring = fullWiring();
  let i = 0;
  let active: Candidate | undefined;
  const stages = {
    load: async () => VERSIONS[i++ & 1]!,
    verify: async () => {},
    switch: async (c: Candidate) => {
      const previous = active;
      active = c;
      return previous;
    },
    unload: async () => {},
    identify: (c: Candidate) => c.identity,
  };
  let once: () => Promise<unknown>;
  switch (variant) {
    case 'full':
    case 'noprobes':
    case 'disabled': {
      const { reloads } = wiring.instrument({ probes: variant === 'full' && probesWithout(), config: { enabled: variant !== 'disabled' } });
      once = () => reloads.reload({ target: 'profile', trigger: 'api' }, stages);
      break;
    }
    case 'hand': {
      const hand = handInstrumentedReloader(wiring.tracer('hand'), wiring.meter('hand'), 'profile');
      once = () => hand(stages, stages.identify);
      break;
    }
    case 'config':
    case 'config-noprobes':
    case 'config-disabled': {
      const file = join(tempDir('profile'), 'app.json');
      writeFileSync(file, configJson(14 * 1024));
      const { reloads } = wiring.instrument({ probes: variant === 'config' && probesWithout(), config: { enabled: variant !== 'config-disabled' } });
      const watcher = await watchConfig({ path: file, format: 'json', instrumentation: reloads, watch: false, signal: false });
      once = () => watcher.reload({ trigger: 'api', force: true });
      break;
    }
    case 'config-hand': {
      const file = join(tempDir('profile'), 'app.json');
      writeFileSync(file, configJson(14 * 1024));
      const hand = handInstrumentedReloader(wiring.tracer('hand'), wiring.meter('hand'), 'profile');
      const { stages: fileStages, identify } = handConfigStages(file);
      once = () => hand(fileStages, identify);
      break;
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
  if (secondsArg === 'count' || secondsArg === 'alloc') {
    await (secondsArg === 'count' ? count(variant, once) : allocations(variant, once));
    await wiring.shutdown();
    process.exit(0);
  }
  let gcMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const cpu0 = process.cpuUsage();
  const end = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    await once();
    if (++n % 20 === 0) await turnOfTheLoop(); // as in the benchmark: deferred work is paid here
  }
  const cpu = process.cpuUsage(cpu0);
  gcObserver.disconnect();
  const per = (us: number) => (us / n).toFixed(1);
  console.log(`${variant}: ${n} reloads, ${per(seconds * 1e6)} µs wall, ${per(cpu.user + cpu.system)} µs CPU, ${per(gcMs * 1000)} µs GC pause per reload`);
  await wiring.shutdown();
  process.exit(0);
}

/**
 * Async resources and allocations per reload. Run under `--expose-gc --min-semi-space-size=64 --max-semi-space-size=64`, so
 * that the measured reloads fit in the young generation without a scavenge (checked: a GC inside
 * the window would make the heap delta meaningless).
 */
async function count(variant: string, once: () => Promise<unknown>): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('count mode needs node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64');
  for (let k = 0; k < 500; k++) {
    await once();
    if (k % 20 === 19) await turnOfTheLoop();
  }
  await turnOfTheLoop();
  const n = 200;
  // Async resources: counted with async_hooks (this enables promise hooks, so it is a separate pass).
  const types = new Map<string, number>();
  const hook = createHook({ init: (_id, type) => types.set(type, (types.get(type) ?? 0) + 1) });
  // context.with() frames: wrap the global context manager's with() for the pass.
  const manager = (context as unknown as { _getContextManager(): { with: (...a: unknown[]) => unknown } })._getContextManager();
  const originalWith = manager.with;
  let frames = 0;
  manager.with = function (this: unknown, ...a: unknown[]) {
    frames++;
    return originalWith.apply(this, a);
  };
  hook.enable();
  for (let k = 0; k < n; k++) await once();
  hook.disable();
  manager.with = originalWith;
  // Allocations: a pass with nothing else enabled, inside one young generation.
  let gcs = 0;
  let from = Number.POSITIVE_INFINITY;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.startTime >= from) gcs++;
  });
  observer.observe({ entryTypes: ['gc'] });
  gc();
  await turnOfTheLoop();
  from = performance.now();
  const before = process.memoryUsage().heapUsed;
  for (let k = 0; k < n; k++) await once();
  const allocated = process.memoryUsage().heapUsed - before;
  await turnOfTheLoop();
  observer.disconnect();
  const perRun = (x: number) => (x / n).toFixed(2).replace(/\.00$/, '');
  const total = [...types.values()].reduce((a, b) => a + b, 0);
  const byType = [...types.entries()].sort((a, b) => b[1] - a[1]).map(([t, c]) => `${t} ${perRun(c)}`);
  console.log(`${variant}: per reload: ${perRun(total)} async resources (${byType.join(', ')}); ${perRun(frames)} context.with; ${gcs > 0 ? `heap: ${gcs} GC(s) in the window, not measured` : `${(allocated / n / 1024).toFixed(1)} KiB allocated`}`);
}

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** A sampling heap profile of N reloads that keeps the samples of collected objects too. */
async function allocations(variant: string, once: () => Promise<unknown>): Promise<void> {
  for (let k = 0; k < 500; k++) await once();
  const session = new Session();
  session.connect();
  const n = 2000;
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  for (let k = 0; k < n; k++) await once();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: SamplingNode } };
  session.disconnect();
  const bySite = new Map<string, number>();
  // RELOADSCOPE_BENCH_ALLOC_CALLERS=delete,Map: where those (native) sites are called from.
  const wanted = new Set((process.env.RELOADSCOPE_BENCH_ALLOC_CALLERS ?? '').split(',').filter(Boolean));
  const callers = new Map<string, number>();
  let total = 0;
  const walk = (node: SamplingNode, path: string[]) => {
    const f = node.callFrame;
    const url = f.url.replace(/^file:\/\/.*?\/(node_modules|packages|test)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber + 1}`;
    if (node.selfSize > 0) bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
    if (node.selfSize > 0 && wanted.has(f.functionName)) {
      const via = `${f.functionName} <- ${path.slice(-3).reverse().join(' <- ')}`;
      callers.set(via, (callers.get(via) ?? 0) + node.selfSize);
    }
    total += node.selfSize;
    for (const c of node.children) walk(c, [...path, key]);
  };
  walk(profile.head, []);
  console.log(`${variant}: ${(total / n / 1024).toFixed(1)} KiB sampled per reload`);
  for (const [k, v] of [...bySite.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${(v / n).toFixed(0).padStart(7)} B  ${k}`);
  }
  for (const [k, v] of [...callers.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`${(v / n).toFixed(0).padStart(7)} B  ${k}`);
  }
}

void main();
