/**
 * Issue 6, item 1: per-reload instrumentation overhead. Four no-op stages through
 * `reloads.reload()` with the full SDK wiring, against the same stages hand-instrumented with the
 * bare OTel API, and against no instrumentation at all. Two extra reloadscope variants (probes
 * off; instrumentation disabled) split the cost between the probes, the telemetry and the
 * orchestration (deadline, coalescing queue, result object).
 */
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { sha256Hex } from '@reloadscope/core';
import { ratioOverRounds, runRounds, type Variant } from '../lib/bench.ts';
import { handInstrumentedReloader, type PlainStages } from '../lib/hand-instrumented.ts';
import { fullWiring } from '../lib/otel.ts';
import { type Row, runSection, type SectionOptions, type SectionResult } from '../lib/section.ts';
import { formatSummary, summarize } from '../lib/stats.ts';

interface Candidate {
  readonly identity: { hash: string; version: string };
  readonly payload: { n: number };
}

const CONNECTIONS = 400;
/** 10,000 open sockets (both ends of 5,000 loopback connections): twice the probes' default maxActiveResources. */
const MANY_CONNECTIONS = 5_000;

/** `n` idle loopback connections held open (the server side keeps them as active handles). */
async function openConnections(n: number): Promise<{ close(): Promise<void> }> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => accepted.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const clients: Socket[] = [];
  // In chunks below the listen backlog: a refused SYN is retried only after a second.
  for (let opened = 0; opened < n; opened += 200) {
    const chunk = Math.min(200, n - opened);
    clients.push(
      ...(await Promise.all(
        Array.from({ length: chunk }, () => new Promise<Socket>((resolve, reject) => {
          const c = connect(port, '127.0.0.1', () => resolve(c));
          c.on('error', reject);
        })),
      )),
    );
  }
  while (accepted.length < n) await new Promise((resolve) => setImmediate(resolve));
  return {
    async close() {
      for (const c of clients) c.destroy();
      for (const a of accepted) a.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const VERSIONS: Candidate[] = ['a', 'b'].map((v, n) => ({ identity: { hash: sha256Hex(v), version: v }, payload: { n } }));

/** Alternating candidates: each reload switches to a version different from the active one. */
function noopStages() {
  let i = 0;
  let active: Candidate | undefined;
  const stages: PlainStages<Candidate, Candidate | undefined> = {
    load: async () => VERSIONS[i++ & 1]!,
    verify: async () => {},
    switch: async (c) => {
      const previous = active;
      active = c;
      return previous;
    },
    unload: async () => {},
  };
  return { stages, identify: (c: Candidate) => c.identity };
}

export const NAMES = {
  full: 'reloadscope reload(), full wiring + node probes',
  noProbes: 'reloadscope reload(), full wiring, probes off',
  disabled: 'reloadscope reload(), instrumentation disabled',
  hand: '(a) hand-instrumented, bare OTel API',
  handProbePoints: '(a) + the probes\' 2 histogram points (constant values)',
  handProbeReadings: '(a) + the probes\' readings and points by hand (heap and handles before/after, a blockage attribute per stage span; no timer, no retention tracking)',
  fullUnbounded: 'reloadscope reload(), full wiring + node probes, resources probe unbounded (maxActiveResources ∞)',
  bare: '(b) uninstrumented',
} as const;

async function overhead(options: SectionOptions): Promise<SectionResult> {
  const wiring = fullWiring();
  const batch = 20;
  const counts: Record<string, number> = {};

  const reloadscopeVariant = (name: string, target: string, setup: Parameters<typeof wiring.instrument>[0]): Variant => {
    const { reloads } = wiring.instrument(setup);
    const { stages, identify } = noopStages();
    const structured = { ...stages, identify };
    const request = { target, trigger: 'api' as const };
    counts[name] = 0;
    return {
      name,
      fn: async () => {
        for (let k = 0; k < batch; k++) {
          const r = await reloads.reload(request, structured);
          if (r.outcome !== 'success') throw new Error(`${name}: reload ended ${r.outcome}`);
        }
        counts[name]! += batch;
      },
    };
  };

  const hand = handInstrumentedReloader(wiring.tracer('bench-hand'), wiring.meter('bench-hand'), 'bench-hand');
  const handPoints = handInstrumentedReloader(wiring.tracer('bench-hand-points'), wiring.meter('bench-hand-points'), 'bench-hand-points', 'points');
  const handReadings = handInstrumentedReloader(wiring.tracer('bench-hand-readings'), wiring.meter('bench-hand-readings'), 'bench-hand-readings', 'readings');
  const handStages = noopStages();
  const bareStages = noopStages().stages;

  const variants: Variant[] = [
    reloadscopeVariant(NAMES.full, 'bench-full', { probes: true }),
    reloadscopeVariant(NAMES.noProbes, 'bench-noprobes', {}),
    reloadscopeVariant(NAMES.disabled, 'bench-disabled', { config: { enabled: false } }),
    {
      name: NAMES.hand,
      fn: async () => {
        for (let k = 0; k < batch; k++) await hand(handStages.stages, handStages.identify);
      },
    },
    {
      name: NAMES.handProbePoints,
      fn: async () => {
        for (let k = 0; k < batch; k++) await handPoints(handStages.stages, handStages.identify);
      },
    },
    {
      name: NAMES.handProbeReadings,
      fn: async () => {
        for (let k = 0; k < batch; k++) await handReadings(handStages.stages, handStages.identify);
      },
    },
    {
      name: NAMES.bare,
      fn: async () => {
        for (let k = 0; k < batch; k++) {
          const c = await bareStages.load();
          await bareStages.verify(c);
          const previous = await bareStages.switch(c);
          await bareStages.unload(previous);
        }
      },
    },
  ];

  const result = await runRounds(variants, {
    rounds: options.quick ? 2 : 7,
    batch,
    timeMs: options.quick ? 150 : 700,
    warmupMs: options.quick ? 50 : 250,
  });

  // The same, in a process holding open connections, like a server with keep-alive clients:
  // costs that scale with the number of active handles show up here.
  const connections = await openConnections(CONNECTIONS);
  const busy = await runRounds(
    variants.filter((v) => v.name === NAMES.full || v.name === NAMES.noProbes || v.name === NAMES.hand),
    { rounds: options.quick ? 1 : 3, batch, timeMs: options.quick ? 100 : 400, warmupMs: options.quick ? 30 : 100 },
  );
  const handles = process.getActiveResourcesInfo().length;
  await connections.close();

  // 10k open sockets: the resources probe skips above maxActiveResources (default 5,000); the
  // unbounded variant is what every reload paid before that bound.
  const unbounded = reloadscopeVariant(NAMES.fullUnbounded, 'bench-unbounded', { probes: { maxActiveResources: Number.MAX_SAFE_INTEGER } });
  const many = await openConnections(MANY_CONNECTIONS);
  const manyHandles = process.getActiveResourcesInfo().length;
  const crowded = await runRounds(
    [...variants.filter((v) => v.name === NAMES.full || v.name === NAMES.noProbes || v.name === NAMES.hand), unbounded],
    { rounds: options.quick ? 1 : 3, batch, timeMs: options.quick ? 100 : 400, warmupMs: options.quick ? 30 : 100 },
  );
  await many.close();
  const skipped = await wiring.reader.total('hotreload.resources.delta', { 'hotreload.target': 'bench-full', 'hotreload.resource.type': '_skipped' });
  if (skipped !== 1) throw new Error(`resources probe did not report _skipped at ${manyHandles} handles`);

  // Prove the instrumented variants really produced telemetry (the harness must be able to fail).
  await wiring.tracerProvider.forceFlush();
  const recorded = await wiring.reader.total('hotreload.reloads', { 'hotreload.target': 'bench-full', 'hotreload.outcome': 'success' });
  if (recorded !== counts[NAMES.full]) throw new Error(`hotreload.reloads recorded ${recorded}, expected ${counts[NAMES.full]}`);
  const disabledRecorded = await wiring.reader.total('hotreload.reloads', { 'hotreload.target': 'bench-disabled' });
  if (disabledRecorded !== 0) throw new Error(`disabled instrumentation recorded ${disabledRecorded} reloads`);
  if (wiring.exporter.exported === 0) throw new Error('no span reached the exporter');
  const exported = wiring.exporter.exported;
  await wiring.shutdown();

  const s = (name: string) => summarize(result.perRound[name]!);
  const ratio = (a: string, b: string) => ratioOverRounds(result, a, b);
  const full = s(NAMES.full);
  const vsHand = ratio(NAMES.full, NAMES.hand);
  const cpu = (name: string) => summarize(result.cpuPerRound[name]!);
  const cpuVsHand = summarize(result.cpuPerRound[NAMES.full]!.map((x, i) => x / result.cpuPerRound[NAMES.hand]![i]!));
  const rows: Row[] = [NAMES.full, NAMES.noProbes, NAMES.disabled, NAMES.hand, NAMES.handProbePoints, NAMES.handProbeReadings, NAMES.bare].map((name) => ({
    measurement: name,
    value: `${formatSummary(s(name), 2)} µs`,
    vsBaseline:
      name === NAMES.hand
        ? `baseline (a); ${formatSummary(ratio(NAMES.hand, NAMES.bare), 2)}× (b)`
        : name === NAMES.bare
          ? 'baseline (b)'
          : `${formatSummary(ratio(name, NAMES.hand), 2)}× (a); ${formatSummary(ratio(name, NAMES.bare), 1)}× (b)`,
    note: `CPU ${cpu(name).median.toFixed(2)} µs; within-round MAD ±${result.madPct[name]!.toFixed(1)} %`,
  }));
  const probesCost = summarize(result.perRound[NAMES.full]!.map((x, i) => x - result.perRound[NAMES.noProbes]![i]!));
  const orchestration = summarize(result.perRound[NAMES.disabled]!.map((x, i) => x - result.perRound[NAMES.bare]![i]!));
  const telemetry = summarize(result.perRound[NAMES.noProbes]!.map((x, i) => x - result.perRound[NAMES.disabled]![i]!));
  const probePointsCost = summarize(result.perRound[NAMES.handProbePoints]!.map((x, i) => x - result.perRound[NAMES.hand]![i]!));
  const probeReadingsCost = summarize(result.perRound[NAMES.handProbeReadings]!.map((x, i) => x - result.perRound[NAMES.hand]![i]!));
  const b = (name: string) => summarize(busy.perRound[name]!);
  const busyRatio = (name: string) => summarize(busy.perRound[name]!.map((x, i) => x / busy.perRound[NAMES.hand]![i]!));
  for (const name of [NAMES.full, NAMES.noProbes, NAMES.hand]) {
    rows.push({
      measurement: `${name}, ${CONNECTIONS} open connections`,
      value: `${formatSummary(b(name), 2)} µs`,
      vsBaseline: name === NAMES.hand ? 'baseline (a)' : `${formatSummary(busyRatio(name), 2)}× (a)`,
      note: `${handles} active handles in the process`,
    });
  }
  const m = (name: string) => summarize(crowded.perRound[name]!);
  const crowdedRatio = (name: string) => summarize(crowded.perRound[name]!.map((x, i) => x / crowded.perRound[NAMES.hand]![i]!));
  for (const name of [NAMES.full, NAMES.fullUnbounded, NAMES.noProbes, NAMES.hand]) {
    rows.push({
      measurement: `${name}, ${manyHandles} active handles`,
      value: `${formatSummary(m(name), 2)} µs`,
      vsBaseline: name === NAMES.hand ? 'baseline (a)' : `${formatSummary(crowdedRatio(name), 2)}× (a)`,
      note: name === NAMES.full ? `resources probe skipped (hotreload.resource.type="_skipped" = ${skipped})` : '',
    });
  }
  const resourcesAtManyHandles = summarize(crowded.perRound[NAMES.fullUnbounded]!.map((x, i) => x - crowded.perRound[NAMES.full]![i]!));
  return {
    id: 'overhead',
    title: '1. Per-reload overhead (4 no-op stages, per reload)',
    rows,
    targets: [
      {
        name: 'per-reload overhead vs hand-instrumented OTel',
        goal: '≤ 1.25× (a)',
        measured: `${formatSummary(vsHand, 2)}× (${full.median.toFixed(1)} µs vs ${s(NAMES.hand).median.toFixed(1)} µs); CPU ${cpuVsHand.median.toFixed(2)}×`,
        met: vsHand.median <= 1.25,
      },
    ],
    data: {
      perReloadMicroseconds: Object.fromEntries(Object.keys(result.perRound).map((k) => [k, s(k)])),
      ratioFullVsHand: vsHand,
      cpuRatioFullVsHand: cpuVsHand,
      perReloadCpuMicroseconds: Object.fromEntries(Object.keys(result.cpuPerRound).map((k) => [k, cpu(k)])),
      ratioNoProbesVsHand: ratio(NAMES.noProbes, NAMES.hand),
      ratioFullVsBare: ratio(NAMES.full, NAMES.bare),
      costSplitMicroseconds: { nodeProbes: probesCost, telemetry, orchestration, probePointsInSdk: probePointsCost, probeReadingsByHand: probeReadingsCost },
      ratioFullVsHandWithProbePoints: ratio(NAMES.full, NAMES.handProbePoints),
      ratioFullVsHandWithProbeReadings: ratio(NAMES.full, NAMES.handProbeReadings),
      ratioHandWithProbeReadingsVsHand: ratio(NAMES.handProbeReadings, NAMES.hand),
      withOpenConnections: {
        connections: CONNECTIONS,
        activeHandles: handles,
        perReloadMicroseconds: Object.fromEntries(Object.keys(busy.perRound).map((k) => [k, b(k)])),
        ratioFullVsHand: busyRatio(NAMES.full),
      },
      withManyHandles: {
        activeHandles: manyHandles,
        perReloadMicroseconds: Object.fromEntries(Object.keys(crowded.perRound).map((k) => [k, m(k)])),
        ratioVsHand: Object.fromEntries(Object.keys(crowded.perRound).map((k) => [k, crowdedRatio(k)])),
        resourcesProbeMicroseconds: resourcesAtManyHandles,
        skippedSeries: skipped,
      },
      withinRoundMadPct: result.madPct,
      samples: result.samples,
      reloadsPerVariant: counts,
      spansExported: exported,
      batch,
    },
    notes: [
      `cost split per reload (median over rounds): node probes ${probesCost.median.toFixed(2)} µs, spans+metrics ${telemetry.median.toFixed(2)} µs, orchestration (deadline timer, queue, result) ${orchestration.median.toFixed(2)} µs`,
      `at ${manyHandles} active handles the unbounded resources probe costs ${formatSummary(resourcesAtManyHandles, 1)} µs per reload over the default (skipped above maxActiveResources)`,
      `of the probes' cost, recording their 2 histogram points in the SDK alone (constant values, no readings) is ${probePointsCost.median.toFixed(2)} µs; full wiring vs (a) with those points: ${formatSummary(ratio(NAMES.full, NAMES.handProbePoints), 2)}×`,
      `the same readings and points taken by hand with the same Node and OTel APIs cost ${probeReadingsCost.median.toFixed(2)} µs (${formatSummary(ratio(NAMES.handProbeReadings, NAMES.hand), 2)}× (a)); full wiring vs (a) with them: ${formatSummary(ratio(NAMES.full, NAMES.handProbeReadings), 2)}× — the public-API floor of what the probes measure`,
    ],
  };
}

runSection(overhead);
