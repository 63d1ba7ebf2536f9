/**
 * The baseline a careful user would write without reloadscope: the same four stages with a root
 * span and four child spans from the bare OpenTelemetry API, and the same histograms and
 * counters (same names' shape, units and bucket edges). No deadline, no coalescing, no
 * observers, no probes: exactly "spans + metrics by hand".
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { getHeapStatistics } from 'node:v8';
import { type Attributes, context, type Meter, SpanKind, type Tracer, trace } from '@opentelemetry/api';
import { DURATION_BUCKETS_SECONDS, EVENTLOOP_BUCKETS_SECONDS, HEAP_DELTA_BUCKETS_BYTES } from '@reloadscope/core';

export interface PlainStages<C, P> {
  load: () => Promise<C>;
  verify: (c: C) => Promise<void>;
  switch: (c: C) => Promise<P>;
  unload: (p: P) => Promise<void>;
}

export interface Identity {
  hash: string;
}

/**
 * What the hand-written reload adds on top of spans and metrics, for decomposition rows:
 * - `points`: the two histogram points the node probes record per run (one `eventloop.blocked`,
 *   one `heap.delta`) with constant values, measuring nothing: what emitting them costs in the SDK;
 * - `readings`: those points with real values, and the readings behind them taken by hand with
 *   the same Node APIs (heap used before and after, the active-resources list before and after
 *   unload compared, a blockage attribute on each stage span from the stage's own clock
 *   readings). No timer, no retention tracking, no bookkeeping: the floor of what the probes'
 *   catalogue costs through the public APIs.
 */
export type HandExtras = 'none' | 'points' | 'readings';

export function handInstrumentedReloader(tracer: Tracer, meter: Meter, target: string, extras: HandExtras = 'none') {
  const advice = { explicitBucketBoundaries: [...DURATION_BUCKETS_SECONDS] };
  const reloadsCounter = meter.createCounter('hand.reloads', { unit: '{reload}' });
  const duration = meter.createHistogram('hand.duration', { unit: 's', advice });
  const stageDuration = meter.createHistogram('hand.stage.duration', { unit: 's', advice });
  const inProgress = meter.createUpDownCounter('hand.in_progress', { unit: '{reload}' });
  const targetAttrs: Attributes = { 'hotreload.target': target };
  const blocked = meter.createHistogram('hand.eventloop.blocked', { unit: 's', advice: { explicitBucketBoundaries: [...EVENTLOOP_BUCKETS_SECONDS] } });
  const heapDelta = meter.createHistogram('hand.heap.delta', { unit: 'By', advice: { explicitBucketBoundaries: [...HEAP_DELTA_BUCKETS_BYTES] } });
  let activeHash: string | undefined;
  let generation = 0;
  let resourcesChanged = false;

  async function reload<C, P>(stages: PlainStages<C, P>, identify: (c: C) => Identity): Promise<void> {
    const t0 = performance.now();
    const parent = context.active();
    const root = tracer.startSpan(
      'hotreload',
      { kind: SpanKind.INTERNAL, attributes: { 'hotreload.target': target, 'hotreload.trigger': 'api' } },
      parent,
    );
    const rootContext = trace.setSpan(parent, root);
    inProgress.add(1, targetAttrs);
    const readings = extras === 'readings';
    const heapBefore = readings ? getHeapStatistics().used_heap_size : 0;
    const resourcesBefore = readings ? process.getActiveResourcesInfo() : undefined;
    let worstBlocked = 0;
    const stage = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const s0 = performance.now();
      const span = tracer.startSpan(
        `hotreload.${name}`,
        { kind: SpanKind.INTERNAL, attributes: { 'hotreload.target': target, 'hotreload.stage': name } },
        rootContext,
      );
      try {
        return await context.with(trace.setSpan(rootContext, span), fn);
      } finally {
        const s1 = performance.now();
        if (readings) {
          // A stand-in for the probe's per-stage blockage: a number from this stage's own clock readings.
          const blocked = Math.max(0, s1 - s0 - 10) / 1000;
          span.setAttribute('hotreload.eventloop.blocked', blocked);
          if (blocked > worstBlocked) worstBlocked = blocked;
        }
        span.end();
        stageDuration.record((s1 - s0) / 1000, { ...targetAttrs, 'hotreload.stage': name, 'hotreload.outcome': 'success' });
      }
    };
    const candidate = await stage('load', stages.load);
    const { hash } = identify(candidate);
    root.setAttribute('hotreload.config.hash', hash);
    if (activeHash) root.setAttribute('hotreload.previous.hash', activeHash);
    await stage('verify', () => stages.verify(candidate));
    const previous = await stage('switch', () => stages.switch(candidate));
    await stage('unload', () => stages.unload(previous));
    if (resourcesBefore) resourcesChanged = !sameList(resourcesBefore, process.getActiveResourcesInfo());
    activeHash = hash;
    generation += 1;
    root.setAttribute('hotreload.outcome', 'success');
    root.setAttribute('hotreload.generation', generation);
    root.end();
    inProgress.add(-1, targetAttrs);
    reloadsCounter.add(1, { ...targetAttrs, 'hotreload.trigger': 'api', 'hotreload.outcome': 'success' });
    duration.record((performance.now() - t0) / 1000, { ...targetAttrs, 'hotreload.outcome': 'success' });
    if (extras === 'points') {
      blocked.record(0, { ...targetAttrs, 'hotreload.stage': 'load' });
      heapDelta.record(0, targetAttrs);
    } else if (readings) {
      blocked.record(worstBlocked, { ...targetAttrs, 'hotreload.stage': 'load' });
      heapDelta.record(Math.max(0, getHeapStatistics().used_heap_size - heapBefore), targetAttrs);
    }
  }
  // `resourcesChanged` is read back so that the comparison is not dead code to the optimiser.
  return Object.assign(reload, { resourcesChanged: () => resourcesChanged });
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A parsed config file with its digest, as the hand-written reload keeps it. */
export interface HandConfig {
  hash: string;
  value: unknown;
}

/**
 * The stages a user writes without reloadscope to reload a JSON file: read, hash and parse in
 * load, swap in switch. Section 2's target baseline and `profile-reload.ts config-hand` share
 * them, so the profile looks at what the bench measures. `active()` is the swapped-in version.
 */
export function handConfigStages(file: string) {
  let active: HandConfig | undefined;
  return {
    active: () => active,
    identify: (c: HandConfig): Identity => ({ hash: c.hash }),
    stages: {
      load: async (): Promise<HandConfig> => {
        const bytes = await readFile(file);
        return { hash: createHash('sha256').update(bytes).digest('hex'), value: JSON.parse(bytes.toString('utf8')) as unknown };
      },
      verify: async () => {},
      switch: async (c: HandConfig) => {
        const previous = active;
        active = c;
        return previous;
      },
      unload: async () => {},
    },
  };
}
