import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Attributes } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ReloadInstrumentation } from '@reloadscope/core';

/** A pull reader the test collects from on demand (the real SDK aggregation path). */
export class TestMetricReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** A ReloadInstrumentation wired to real SDK providers with an in-memory span exporter and a pull reader. */
export function telemetry() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const reloads = new ReloadInstrumentation();
  reloads.setTracerProvider(tracerProvider);
  reloads.setMeterProvider(meterProvider);

  /** Value of one series (a counter's value, a histogram's count); undefined when absent. */
  async function metric(name: string, attributes: Attributes): Promise<number | undefined> {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length) throw errors[0];
    for (const sm of resourceMetrics.scopeMetrics) {
      for (const m of sm.metrics) {
        if (m.descriptor.name !== name) continue;
        for (const dp of m.dataPoints) {
          if (!sameAttributes(dp.attributes, attributes)) continue;
          return m.dataPointType === DataPointType.HISTOGRAM ? (dp.value as { count: number }).count : (dp.value as number);
        }
      }
    }
    return undefined;
  }

  async function spans(): Promise<ReadableSpan[]> {
    await tracerProvider.forceFlush();
    return exporter.getFinishedSpans();
  }

  async function shutdown(): Promise<void> {
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  }

  return { reloads, exporter, reader, metric, spans, shutdown };
}

export function sameAttributes(actual: Attributes, expected: Attributes): boolean {
  const a = Object.keys(actual).sort();
  const e = Object.keys(expected).sort();
  return a.length === e.length && a.every((k, i) => k === e[i] && actual[k] === expected[k]);
}

/** A fresh temp dir removed after the test. */
export async function tempDir(t: TestContext, prefix = 'rs-config-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `check` returns truthy; generous deadline for a loaded CI machine. */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Collect every diagnostic for assertions (and for the secret-leak check). */
export function diagnostics() {
  const seen: Array<{ code: string; message: string }> = [];
  return { seen, sink: (d: { code: string; message: string }) => void seen.push(d) };
}
