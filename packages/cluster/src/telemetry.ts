import { type BatchObservableResult, type Meter, type MeterProvider, metrics } from '@opentelemetry/api';
import { ATTR_CLUSTER_GENERATION, ATTR_TARGET, bindCurrentSeries, CLUSTER_GENERATIONS, createInstruments, METRICS } from '@reloadscope/core';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.ts';
import type { WorkerState } from './workers.ts';

/** The supervisor's SDK instruments; the workers gauge is reported through core's bindCurrentSeries. */
const CLUSTER_METRICS = {
  drainDuration: METRICS.clusterDrainDuration,
  forcedKills: METRICS.clusterForcedKills,
  restarts: METRICS.clusterWorkerRestarts,
};

/** What the supervisor counts; read at collection time, so nothing is recorded per event but drains. */
export interface ClusterCounts {
  workersByState(): Record<WorkerState, number>;
  forcedKills: number;
  restarts: number;
}

/**
 * The supervisor's own instruments (the upgrade runs themselves are core's metrics). Every series
 * exists at 0 from the start, so `increase()` sees the first kill or restart.
 */
export class ClusterTelemetry {
  readonly #meter: Meter;
  readonly #instruments: ReturnType<typeof createInstruments<typeof CLUSTER_METRICS>>;
  readonly #callback: (result: BatchObservableResult) => void;
  readonly #unbindWorkers: () => void;
  readonly #attrs: { [ATTR_TARGET]: string };

  constructor(target: string, counts: ClusterCounts, provider: MeterProvider = metrics.getMeterProvider()) {
    const meter = provider.getMeter(PACKAGE_NAME, PACKAGE_VERSION);
    this.#meter = meter;
    this.#attrs = { [ATTR_TARGET]: target };
    const inst = createInstruments(meter, CLUSTER_METRICS);
    this.#instruments = inst;
    this.#callback = (result) => {
      result.observe(inst.forcedKills, counts.forcedKills, this.#attrs);
      result.observe(inst.restarts, counts.restarts, this.#attrs);
    };
    meter.addBatchObservableCallback(this.#callback, [inst.forcedKills, inst.restarts]);
    this.#unbindWorkers = bindCurrentSeries(provider, { name: PACKAGE_NAME, version: PACKAGE_VERSION }, (gauges) => {
      const byState = counts.workersByState();
      for (const state of CLUSTER_GENERATIONS) gauges.observe(METRICS.clusterWorkers, byState[state], { ...this.#attrs, [ATTR_CLUSTER_GENERATION]: state });
    });
  }

  drained(seconds: number): void {
    this.#instruments.drainDuration.record(seconds, this.#attrs);
  }

  close(): void {
    const inst = this.#instruments;
    this.#meter.removeBatchObservableCallback(this.#callback, [inst.forcedKills, inst.restarts]);
    this.#unbindWorkers();
  }
}
