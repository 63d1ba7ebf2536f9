import { type Attributes, context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { collect, seriesValue, testMeterProvider } from '../../../test/support/metrics.ts';
import { ReloadInstrumentation } from '../src/index.ts';
import type { ReloadInstrumentationConfig } from '../src/types.ts';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

export type { CollectedMetric, Point } from '../../../test/support/metrics.ts';

export function setup(config: ReloadInstrumentationConfig = {}) {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const { reader, meterProvider } = testMeterProvider();
  const reloads = new ReloadInstrumentation(config);
  reloads.setTracerProvider(tracerProvider);
  reloads.setMeterProvider(meterProvider);

  const metrics = () => collect(reader);
  /** The value of one series; undefined when the series does not exist. */
  const value = (name: string, attributes: Attributes) => seriesValue(reader, name, attributes);

  /** Finished spans, after the (asynchronous) simple processor has handed them over. */
  async function spans(): Promise<ReadableSpan[]> {
    await tracerProvider.forceFlush();
    return exporter.getFinishedSpans();
  }

  return { reloads, exporter, reader, tracerProvider, meterProvider, metrics, value, spans };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A tiny versioned "service": what the stages switch. */
export function makeTarget<T>(initial: T) {
  const box = { active: initial, unloaded: [] as T[] };
  return {
    box,
    stages(next: T) {
      return {
        load: async () => next,
        switch: async (c: T) => {
          const prev = box.active;
          box.active = c;
          return prev;
        },
        unload: async (prev: T) => {
          box.unloaded.push(prev);
        },
        rollback: async (prev: T | undefined) => {
          if (prev !== undefined) box.active = prev;
        },
      };
    },
  };
}
