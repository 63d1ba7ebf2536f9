import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ReloadInstrumentation } from '@reloadscope/core';
import { type CollectedMetric, TestMetricReader, collect } from '../../../test/support/metrics.ts';
import { type NodeProbesConfig, ReloadNodeProbes } from '../src/index.ts';

export type { CollectedMetric, Point } from '../../../test/support/metrics.ts';

export function setup(config: Omit<NodeProbesConfig, 'instrumentation'> = {}) {
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const reloads = new ReloadInstrumentation();
  reloads.setMeterProvider(meterProvider);
  const probes = new ReloadNodeProbes({ ...config, instrumentation: reloads });
  probes.setMeterProvider(meterProvider);

  const metrics = () => collect(reader);

  async function metric(name: string): Promise<CollectedMetric | undefined> {
    return (await metrics()).find((m) => m.name === name);
  }

  async function close(): Promise<void> {
    probes.disable();
    await meterProvider.shutdown();
  }

  return { reloads, probes, reader, meterProvider, metrics, metric, close };
}

export { eventually } from '../../../test/support/eventually.ts';

export function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin: block the event loop on purpose
  }
}
