import type { ResourceMetrics, PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterStartUp } from './after-start-up.ts';
import { DeferredExporter } from './deferred-exporter.ts';
import type { OtlpMetricsSettings, OtlpProtocol } from './env.ts';
import type { Exporter } from './exporter.ts';
import { aggregationSelector, temporalitySelector } from './metric-selectors.ts';

/**
 * The OTLP/HTTP exporters, one package per signal and encoding, each loaded once the application
 * runs (afterStartUp) or at the first export if that comes sooner: nothing is exported before a
 * batch or an interval is due, and the packages (exporter-base, transformer, the protobuf
 * encoder) are a fifth of the modules a boot would load. Each returns a factory of exporters with a
 * given timeout, sharing one import: ExitBoundedExporter makes a second exporter at exit.
 */
function lazily<Module, Batch>(
  load: () => Promise<Module>,
  create: (module: Module, timeoutMillis: number) => Exporter<Batch>,
): (timeoutMillis: number) => DeferredExporter<Batch> {
  let module: Promise<Module> | undefined;
  const once = () => {
    module ??= load();
    return module;
  };
  afterStartUp(() => void once().catch(() => {}));
  return (timeoutMillis) => new DeferredExporter<Batch>(async () => create(await once(), timeoutMillis));
}

export function otlpSpanExporter(url: string, protocol: OtlpProtocol): (timeoutMillis: number) => DeferredExporter<ReadableSpan[]> {
  return protocol === 'http/protobuf'
    ? lazily(() => import('@opentelemetry/exporter-trace-otlp-proto'), (m, timeoutMillis) => new m.OTLPTraceExporter({ url, timeoutMillis }))
    : lazily(() => import('@opentelemetry/exporter-trace-otlp-http'), (m, timeoutMillis) => new m.OTLPTraceExporter({ url, timeoutMillis }));
}

/** The upstream enum (AggregationTemporalityPreference), without importing its package at boot. */
const PREFERENCE = { delta: 0, cumulative: 1, lowmemory: 2 } as const;

export function otlpMetricExporter(settings: OtlpMetricsSettings): (timeoutMillis: number) => DeferredExporter<ResourceMetrics> {
  const { url, protocol, temporality } = settings;
  // Given explicitly, so the upstream exporter does not read (and warn about) the variable a second time.
  const options = (timeoutMillis: number) => ({ url, timeoutMillis, temporalityPreference: PREFERENCE[temporality] });
  return protocol === 'http/protobuf'
    ? lazily(() => import('@opentelemetry/exporter-metrics-otlp-proto'), (m, timeoutMillis) => new m.OTLPMetricExporter(options(timeoutMillis)))
    : lazily(() => import('@opentelemetry/exporter-metrics-otlp-http'), (m, timeoutMillis) => new m.OTLPMetricExporter(options(timeoutMillis)));
}

/**
 * What the periodic reader is given: the export chain (deferred, exit-bounded, reporting) plus the
 * temporality and histogram aggregation the environment asked for, answered without the upstream
 * package (see metric-selectors.ts).
 */
export class SelectingMetricExporter implements PushMetricExporter {
  readonly #inner: Exporter<ResourceMetrics>;
  readonly selectAggregationTemporality: NonNullable<PushMetricExporter['selectAggregationTemporality']>;
  readonly selectAggregation: NonNullable<PushMetricExporter['selectAggregation']>;

  constructor(inner: Exporter<ResourceMetrics>, settings: Pick<OtlpMetricsSettings, 'temporality' | 'histogramAggregation'>) {
    this.#inner = inner;
    this.selectAggregationTemporality = temporalitySelector(settings.temporality);
    this.selectAggregation = aggregationSelector(settings.histogramAggregation);
  }

  export(metrics: ResourceMetrics, done: Parameters<PushMetricExporter['export']>[1]): void {
    this.#inner.export(metrics, done);
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }
}
