import type { Attributes, Histogram, Span } from '@opentelemetry/api';
import {
  ATTR_EVENTLOOP_BLOCKED,
  ATTR_RESOURCE_TYPE,
  ATTR_STAGE,
  ATTR_TARGET,
  type CurrentGauges,
  createInstrument,
  errorType,
  type InstrumentationConfig,
  METRICS,
  NonPatchingInstrumentation,
  type ReloadObserver,
  type ReloadResult,
  type ReloadStage,
  type RunInfo,
} from '@reloadscope/core';
import { diffSnapshots, type ResourceSnapshot, sameList, snapshotActiveResources } from './active-resources.ts';
import { diagOnce } from './diagnostics.ts';
import { EventLoopMonitor, type LoopSpan } from './event-loop-monitor.ts';
import { exactHeapWanted, heapUsedBytes } from './heap.ts';
import { RetainedVersions } from './retained-versions.ts';
import { SlotList } from './slot-list.ts';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.ts';

/** What the probes need from a ReloadInstrumentation (structural, so any copy of core works). */
export interface ObservableReloads {
  addObserver(observer: ReloadObserver): () => void;
}

export interface NodeProbesConfig extends InstrumentationConfig {
  /** The ReloadInstrumentation whose runs are measured. More can be added with `observe()`. */
  instrumentation?: ObservableReloads;
  /** How long an unloaded version may stay alive before it can count as retained. Default 10 000 ms. */
  retainedGraceMs?: number;
  /** Sampling interval of the event-loop probe while a stage runs. Default 10 ms. */
  eventLoopResolutionMs?: number;
  /**
   * Run a full GC before each heap reading, so `hotreload.heap.delta` is what a reload kept rather
   * than garbage not yet collected. Needs `node --expose-gc`; costs two full GCs (milliseconds)
   * per reload, so it is for tests and investigations. Default: RELOADSCOPE_EXACT_HEAP=true, else off.
   */
  exactHeap?: boolean;
  /**
   * Which probes run; each defaults to true. A probe turned off records nothing and takes no
   * readings (the package README's "Cost and safety" section says what the probes cost).
   */
  probes?: Partial<Record<ProbeName, boolean>>;
  /**
   * Above this many active handles and requests the resources probe skips its readings, which are
   * O(handles): the target's `hotreload.resources.delta` then shows only
   * `hotreload.resource.type="_skipped"` = 1, and the next reading is tried 60 s later.
   * Default 5 000 (about 0.4 ms per reading at that size; see the package README).
   */
  maxActiveResources?: number;
}

/** The `hotreload.resource.type` that says the resources probe skipped a target's last run. */
export const RESOURCES_SKIPPED = '_skipped';
const DEFAULT_MAX_ACTIVE_RESOURCES = 5_000;
/** How long the resources probe stays off after it found too many handles. */
const RESOURCES_RECHECK_MS = 60_000;

/** The probes of a run, each behind its own switch in `NodeProbesConfig.probes`. */
export type ProbeName = 'heap' | 'eventLoop' | 'resources' | 'retainedVersions';

const DEFAULT_GRACE_MS = 10_000;
/** Concurrent runs from which ProbeState indexes them by id instead of scanning. */
const RUN_INDEX_FROM = 16;

/** The probes' SDK instruments; their gauges are reported by `_observeCurrent` (core's current-series). */
interface Instruments {
  heapDelta: Histogram;
  blocked: Histogram;
}

/**
 * One run's readings, kept from its start until its heap "after" reading. It is also the
 * event-loop span of the run's open stage (reused stage after stage) and, in exact heap mode, the
 * entry waiting for that reading: one object per run instead of three.
 */
class RunProbe implements LoopSpan {
  readonly runId: number;
  readonly attributes: TargetAttributes;
  heapBefore = 0;
  /** Raw, uncounted: it is only counted if the run reaches unload (failed and unchanged runs do not). */
  resourcesBefore: ResourceSnapshot | undefined = undefined;
  startedAt = 0;
  worstMs = 0;
  /** The run's worst stage so far and its blockage (seconds): the run's one histogram point. */
  worstStage: ReloadStage | undefined = undefined;
  worstSeconds = 0;

  constructor(runId: number, attributes: TargetAttributes) {
    this.runId = runId;
    this.attributes = attributes;
  }
}

/**
 * What a reload costs the process, per run of @reloadscope/core: heap delta, old versions still
 * alive after unload, change in active handles, and the worst event-loop delay of the run (on
 * the histogram, named by its worst stage) and of each stage (on that stage's span).
 * Nothing runs per request: probes are sampled at run and stage boundaries only, and the one
 * timer (event loop) exists only while reloads run.
 */
export class ReloadNodeProbes extends NonPatchingInstrumentation<NodeProbesConfig> {
  // `declare` fields: the base constructor calls _updateMetricInstruments() and enable() before
  // subclass initialisers run; initialised fields would overwrite their work.
  declare private _inst: Instruments | undefined;
  declare private _state: ProbeState | undefined;
  declare private _sources: Map<ObservableReloads, (() => void) | undefined> | undefined;

  constructor(config: NodeProbesConfig = {}) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
    if (config.instrumentation) this.observe(config.instrumentation);
  }

  protected override _updateMetricInstruments(): void {
    this._inst = {
      heapDelta: createInstrument(this.meter, METRICS.heapDelta),
      blocked: createInstrument(this.meter, METRICS.eventloopBlocked),
    };
  }

  /** Measure the runs of one more ReloadInstrumentation; returns a function that stops it. */
  observe(reloads: ObservableReloads): () => void {
    const sources = this._sourceMap();
    if (!sources.has(reloads)) sources.set(reloads, this._enabled ? reloads.addObserver(this._probeState()) : undefined);
    return () => {
      sources.get(reloads)?.();
      sources.delete(reloads);
    };
  }

  override enable(): void {
    super.enable();
    const sources = this._sources;
    if (!sources) return;
    for (const [reloads, off] of sources) if (!off) sources.set(reloads, reloads.addObserver(this._probeState()));
  }

  override disable(): void {
    super.disable();
    const sources = this._sources;
    if (sources) for (const [reloads, off] of sources) {
      off?.();
      sources.set(reloads, undefined);
    }
    this._state?.stop();
  }

  private _sourceMap(): Map<ObservableReloads, (() => void) | undefined> {
    this._sources ??= new Map();
    return this._sources;
  }

  private _probeState(): ProbeState {
    this._state ??= new ProbeState(this.getConfig(), () => this._inst);
    return this._state;
  }

  /**
   * Retained versions per target, and each target's latest measured handle delta: only the types
   * of that delta, so a type that was in neither snapshot of the latest run has no series (and
   * `_skipped` only while the latest run was skipped).
   */
  protected override _observeCurrent(gauges: CurrentGauges): void {
    const state = this._state;
    if (!state) return;
    for (const [target, count] of state.retained.counts()) {
      gauges.observe(METRICS.retainedVersions, count, { [ATTR_TARGET]: target });
    }
    for (const [target, delta] of state.resourceDeltas) {
      for (const [type, value] of delta) {
        gauges.observe(METRICS.resourcesDelta, value, { [ATTR_TARGET]: target, [ATTR_RESOURCE_TYPE]: type });
      }
    }
  }
}

/** The probes' metric attributes of one target (`{target}` and `{target, stage}` per stage), and what they remember of it. */
class TargetAttributes {
  readonly target: Attributes;
  readonly #byStage = new Map<ReloadStage, Attributes>();
  /** Whether the retention probe knows the target (it keeps its targets for good). */
  retainedDeclared = false;
  /**
   * The handle list whose all-zero delta the target's resources gauge holds, if it holds one: a
   * reload that leaves exactly that list behind again changes nothing, and rebuilding the
   * per-type map (hashing every type name Node returns as a fresh string) is skipped.
   */
  zeroResources: ResourceSnapshot | undefined = undefined;

  constructor(target: string) {
    this.target = Object.freeze({ [ATTR_TARGET]: target });
  }

  stage(stage: ReloadStage): Attributes {
    let attributes = this.#byStage.get(stage);
    if (!attributes) {
      attributes = Object.freeze({ [ATTR_TARGET]: this.target[ATTR_TARGET], [ATTR_STAGE]: stage });
      this.#byStage.set(stage, attributes);
    }
    return attributes;
  }
}

/** The observer: per-run bookkeeping shared by every observed ReloadInstrumentation. */
class ProbeState implements ReloadObserver {
  readonly retained: RetainedVersions;
  /** Last measured resource delta per target (a gauge: it describes the latest completed unload). */
  readonly resourceDeltas = new Map<string, Map<string, number>>();
  readonly #loop: EventLoopMonitor;
  /**
   * The runs in progress: rarely more than one, so a scan beats hashing the run id at every hook.
   * From RUN_INDEX_FROM concurrent runs on they are also indexed, so that many targets reloading
   * at once cost O(1) per hook, not O(runs).
   */
  readonly #runs = new SlotList<RunProbe>();
  #runIndex: Map<number, RunProbe> | undefined;
  readonly #instruments: () => Instruments | undefined;
  readonly #collect: boolean;
  readonly #heap: boolean;
  readonly #eventLoop: boolean;
  readonly #resources: boolean;
  readonly #retainedVersions: boolean;
  readonly #maxActiveResources: number;
  /** performance.now() before which the resources probe takes no reading (it found too many); 0: none. */
  #resourcesOffUntil = 0;
  /**
   * Attribute objects per target, built once: the SDK hashes whatever object it gets, but
   * building a fresh one per point was garbage on every stage. Frozen, because the SDK keeps the
   * first object it saw for a series as that series' attributes.
   */
  readonly #attributes = new Map<string, TargetAttributes>();
  /** Exact mode: runs whose heap "after" reading is due once the current turn's stacks have unwound. */
  #heapPending: RunProbe[] = [];
  #heapImmediate: ReturnType<typeof setImmediate> | undefined;

  constructor(config: NodeProbesConfig, instruments: () => Instruments | undefined) {
    this.retained = new RetainedVersions(config.retainedGraceMs ?? DEFAULT_GRACE_MS);
    this.#loop = new EventLoopMonitor(config.eventLoopResolutionMs ?? 10);
    this.#instruments = instruments;
    const on = config.probes ?? {};
    this.#heap = on.heap ?? true;
    this.#eventLoop = on.eventLoop ?? true;
    this.#resources = on.resources ?? true;
    this.#retainedVersions = on.retainedVersions ?? true;
    this.#collect = this.#heap && exactHeapWanted(config.exactHeap);
    const max = config.maxActiveResources ?? DEFAULT_MAX_ACTIVE_RESOURCES;
    if (!(Number.isSafeInteger(max) && max >= 0)) throw new TypeError('ReloadNodeProbes: maxActiveResources must be an integer >= 0');
    this.#maxActiveResources = max;
  }

  runStarted(run: RunInfo): void {
    const target = this.#attributesOf(run.target);
    if (this.#retainedVersions && !target.retainedDeclared) {
      this.retained.declareTarget(run.target);
      target.retainedDeclared = true;
    }
    const probe = new RunProbe(run.id, target);
    if (this.#heap) probe.heapBefore = heapUsedBytes(this.#collect);
    if (this.#resources) probe.resourcesBefore = this.#resourcesBefore(run.target);
    this.#runs.add(probe);
    if (this.#runIndex) this.#runIndex.set(probe.runId, probe);
    else if (this.#runs.length >= RUN_INDEX_FROM) {
      this.#runIndex = new Map();
      for (let i = 0; i < this.#runs.length; i++) this.#runIndex.set(this.#runs.items[i]!.runId, this.#runs.items[i]!);
    }
  }

  stageStarted(run: RunInfo, _stage: ReloadStage, startedAt?: number): void {
    if (!this.#eventLoop) return;
    const probe = this.#probe(run.id);
    // Core read the clock for the stage's start just now: the monitor uses that reading.
    if (probe) this.#loop.open(probe, startedAt);
  }

  stageEnded(run: RunInfo, stage: ReloadStage, _outcome: unknown, durationMs: number, span: Span | undefined): void {
    if (!this.#eventLoop) return;
    const probe = this.#probe(run.id);
    if (!probe) return;
    // Core measured the stage just now: its duration saves the monitor a clock read per stage.
    const seconds = this.#loop.close(probe, durationMs); // anything but a usable reading falls back to the clock
    if (seconds === undefined) return;
    // Each stage's own reading goes on its span (a trace answers "which stage"); the histogram
    // gets one point per run, at runEnded. A tie keeps the earlier stage.
    span?.setAttribute(ATTR_EVENTLOOP_BLOCKED, seconds);
    if (probe.worstStage === undefined || seconds > probe.worstSeconds) {
      probe.worstStage = stage;
      probe.worstSeconds = seconds;
    }
  }

  versionUnloaded(run: RunInfo, previous: unknown): void {
    if (this.#retainedVersions) this.retained.track(run.target, previous);
    // Taken here, while the run (and its deadline timer) is still open, so that the run's own
    // handles are in both snapshots and only what the reload left behind shows.
    const probe = this.#probe(run.id);
    const before = probe?.resourcesBefore;
    if (before) {
      probe.resourcesBefore = undefined;
      const after = snapshotActiveResources();
      if (after) {
        const target = probe.attributes;
        const unchanged = sameList(before, after);
        if (unchanged && target.zeroResources !== undefined && sameList(after, target.zeroResources)) {
          target.zeroResources = after;
        } else {
          // The target's previous delta map is reused: the gauge only ever shows the latest one.
          this.resourceDeltas.set(run.target, diffSnapshots(before, after, this.resourceDeltas.get(run.target)));
          target.zeroResources = unchanged ? after : undefined;
        }
      }
    }
  }

  runEnded(run: RunInfo, _result: ReloadResult): void {
    const probe = this.#probe(run.id);
    if (!probe) return;
    this.#runs.remove(probe);
    if (this.#runIndex) {
      this.#runIndex.delete(probe.runId);
      if (this.#runs.length === 0) this.#runIndex = undefined;
    }
    this.#loop.close(probe); // a stage still open when its run ended (low-level API misuse)
    const instruments = this.#instruments();
    if (probe.worstStage !== undefined) instruments?.blocked.record(probe.worstSeconds, probe.attributes.stage(probe.worstStage));
    if (!this.#heap) return;
    probe.resourcesBefore = undefined; // a run that never reached unload: its list is garbage now
    if (!this.#collect) {
      // Without a GC first, the reading counts garbage and live objects alike, so whether the
      // finished run's locals still hold the old version makes no difference: read it now, in
      // core's isolation of observer hooks, instead of paying an immediate per run. A run that
      // freed memory is 0 growth: OTel histograms drop negative values.
      instruments?.heapDelta.record(Math.max(0, heapUsedBytes(false) - probe.heapBefore), probe.attributes.target);
      return;
    }
    // Exact mode collects first, and the finished run's locals would still hold the old version:
    // measured once the stack has unwound. Runs ending in the same turn share one reading (and
    // one GC) instead of one immediate each.
    this.#heapPending.push(probe);
    if (!this.#heapImmediate) {
      this.#heapImmediate = setImmediate(() => this.#recordHeap());
      this.#heapImmediate.unref();
    }
  }

  stop(): void {
    this.#loop.stop();
    this.retained.stop();
    this.#runs.clear();
    this.#runIndex = undefined;
    if (this.#heapImmediate) clearImmediate(this.#heapImmediate);
    this.#heapImmediate = undefined;
    this.#heapPending = [];
  }

  #recordHeap(): void {
    this.#heapImmediate = undefined;
    const pending = this.#heapPending;
    this.#heapPending = [];
    // Exact mode only. This runs from an immediate, outside core's isolation of observer hooks: a throwing meter
    // (or a foreign globalThis.gc in exact mode) would be an uncaught exception that ends the process.
    try {
      const after = heapUsedBytes(this.#collect);
      const histogram = this.#instruments()?.heapDelta;
      if (!histogram) return;
      // OTel histograms take non-negative values only (the SDK drops negatives): a run that freed
      // memory is recorded as 0 growth.
      for (const run of pending) histogram.record(Math.max(0, after - run.heapBefore), run.attributes.target);
    } catch (err) {
      diagOnce('heap-record-threw', 'warn', `recording hotreload.heap.delta threw (${errorType(err)}); those points are lost, reloads are unaffected`);
    }
  }

  /** The "before" list, or undefined (and the target marked skipped) above maxActiveResources. */
  #resourcesBefore(target: string): ResourceSnapshot | undefined {
    // The clock is read only while a skip is in force: a process below the bound pays nothing for it.
    if (this.#resourcesOffUntil === 0 || performance.now() >= this.#resourcesOffUntil) {
      const snapshot = snapshotActiveResources();
      if (!snapshot || snapshot.length <= this.#maxActiveResources) {
        this.#resourcesOffUntil = 0;
        return snapshot;
      }
      this.#resourcesOffUntil = performance.now() + RESOURCES_RECHECK_MS;
      diagOnce(
        'resources-skipped',
        'info',
        `${snapshot.length} active handles exceed maxActiveResources (${this.#maxActiveResources}); hotreload.resources.delta reads ${RESOURCES_SKIPPED} until they fall below it`,
      );
    }
    const known = this.#attributes.get(target);
    if (known) known.zeroResources = undefined;
    const skipped = this.resourceDeltas.get(target) ?? new Map<string, number>();
    skipped.clear();
    skipped.set(RESOURCES_SKIPPED, 1);
    this.resourceDeltas.set(target, skipped);
    return undefined;
  }

  #probe(runId: number): RunProbe | undefined {
    if (this.#runIndex) return this.#runIndex.get(runId);
    const { items, length } = this.#runs;
    for (let i = 0; i < length; i++) if (items[i]!.runId === runId) return items[i];
    return undefined;
  }

  #attributesOf(target: string): TargetAttributes {
    let attributes = this.#attributes.get(target);
    if (!attributes) {
      attributes = new TargetAttributes(target);
      this.#attributes.set(target, attributes);
    }
    return attributes;
  }
}

/** One-line form: `enableNodeProbes(reloads)`. */
export function enableNodeProbes(reloads: ObservableReloads, config: Omit<NodeProbesConfig, 'instrumentation'> = {}): ReloadNodeProbes {
  return new ReloadNodeProbes({ ...config, instrumentation: reloads });
}
