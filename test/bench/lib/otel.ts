/**
 * The "full SDK wiring" every instrumented measurement uses: what @reloadscope/register sets up
 * in a real service, minus the network. A batch span processor feeding an exporter that drops
 * spans (but counts them, so a run can prove the spans really flowed), a pull metric reader like
 * the Prometheus endpoint, AsyncLocalStorage context, and the Node probes.
 */
import { context, type Tracer, type Meter } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { AggregationTemporality, type DataPoint, DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import { type ReloadInstrumentationConfig, ReloadInstrumentation } from '@reloadscope/core';
import { enableNodeProbes, type NodeProbesConfig, type ReloadNodeProbes } from '@reloadscope/node';
import { currentSeriesProducer } from '@reloadscope/register/api';

let contextManagerSet = false;

/** The same context manager for instrumented and hand-instrumented variants (as register does). */
export function useAsyncLocalStorageContext(): void {
  if (contextManagerSet) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  contextManagerSet = true;
}

/** Accepts every batch and throws it away; counts spans so the harness can check they arrived. */
export class CountingNoopExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.exported += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}

/**
 * A pull reader, like the Prometheus exporter: nothing happens until someone collects. Like every
 * reader register builds, it carries the producer of reloadscope's gauges.
 */
export class PullReader extends MetricReader {
  constructor(meterProvider: () => MeterProvider | undefined) {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE, metricProducers: [currentSeriesProducer(meterProvider)] });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}

  /** Sum over all points of a counter/up-down counter, or the count of a histogram, matching `where`. */
  async total(name: string, where: Record<string, string> = {}): Promise<number> {
    const { resourceMetrics, errors } = await this.collect();
    if (errors.length > 0) throw errors[0];
    let sum = 0;
    for (const sm of resourceMetrics.scopeMetrics) {
      for (const m of sm.metrics) {
        if (m.descriptor.name !== name) continue;
        for (const dp of m.dataPoints as DataPoint<unknown>[]) {
          if (!Object.entries(where).every(([k, v]) => dp.attributes[k] === v)) continue;
          const v = dp.value;
          if (typeof v === 'number') sum += v;
          else if (m.dataPointType === DataPointType.HISTOGRAM) sum += (v as { count: number }).count;
        }
      }
    }
    return sum;
  }
}

export interface Wiring {
  tracerProvider: TracerProvider;
  meterProvider: MeterProvider;
  exporter: CountingNoopExporter;
  reader: PullReader;
  tracer(name: string): Tracer;
  meter(name: string): Meter;
  /** A ReloadInstrumentation on these providers, optionally with the Node probes observing it. */
  instrument(options?: { probes?: boolean | NodeProbesConfig; config?: ReloadInstrumentationConfig }): {
    reloads: ReloadInstrumentation;
    probes: ReloadNodeProbes | undefined;
  };
  shutdown(): Promise<void>;
}

export function fullWiring(): Wiring {
  useAsyncLocalStorageContext();
  const exporter = new CountingNoopExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter })] });
  let built: MeterProvider | undefined;
  const reader = new PullReader(() => built);
  const meterProvider = new MeterProvider({ readers: [reader] });
  built = meterProvider;
  const probesList: ReloadNodeProbes[] = [];
  return {
    tracerProvider,
    meterProvider,
    exporter,
    reader,
    tracer: (name) => tracerProvider.getTracer(name),
    meter: (name) => meterProvider.getMeter(name),
    instrument(options = {}) {
      const reloads = new ReloadInstrumentation(options.config);
      reloads.setTracerProvider(tracerProvider);
      reloads.setMeterProvider(meterProvider);
      let probes: ReloadNodeProbes | undefined;
      if (options.probes) {
        probes = enableNodeProbes(reloads, options.probes === true ? {} : options.probes);
        probes.setMeterProvider(meterProvider);
        probesList.push(probes);
      }
      return { reloads, probes };
    },
    async shutdown() {
      for (const p of probesList) p.disable();
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}
