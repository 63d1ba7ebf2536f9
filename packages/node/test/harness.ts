import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ReloadInstrumentation } from '@reloadscope/core';
import { type CollectedMetric, collect, testMeterProvider } from '../../../test/support/metrics.ts';
import { type NodeProbesConfig, ReloadNodeProbes } from '../src/index.ts';

export type { CollectedMetric, Point } from '../../../test/support/metrics.ts';

/**
 * `tracing`: also record spans (in memory). Off by default: the simple span processor's exports
 * hold timers of their own, which the resources probe would rightly count.
 */
export function setup(config: Omit<NodeProbesConfig, 'instrumentation'> = {}, { tracing = false } = {}) {
  const { reader, meterProvider } = testMeterProvider();
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const reloads = new ReloadInstrumentation();
  reloads.setMeterProvider(meterProvider);
  if (tracing) reloads.setTracerProvider(tracerProvider);
  const probes = new ReloadNodeProbes({ ...config, instrumentation: reloads });
  probes.setMeterProvider(meterProvider);

  const metrics = () => collect(reader);

  async function metric(name: string): Promise<CollectedMetric | undefined> {
    return (await metrics()).find((m) => m.name === name);
  }

  async function spans(): Promise<ReadableSpan[]> {
    await tracerProvider.forceFlush();
    return exporter.getFinishedSpans();
  }

  async function close(): Promise<void> {
    probes.disable();
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  }

  return { reloads, probes, reader, meterProvider, metrics, metric, spans, close };
}

export { eventually } from '../../../test/support/eventually.ts';

export function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin: block the event loop on purpose
  }
}
