import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Attributes } from '@opentelemetry/api';
import { seriesValue, testMeterProvider } from '../../../test/support/metrics.ts';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { OUTCOMES, ReloadInstrumentation } from '@reloadscope/core';
import { type WatchConfigOptions, watchConfig } from '../src/index.ts';

/** A ReloadInstrumentation wired to real SDK providers with an in-memory span exporter and a pull reader. */
export function telemetry() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const { reader, meterProvider } = testMeterProvider();
  const reloads = new ReloadInstrumentation();
  reloads.setTracerProvider(tracerProvider);
  reloads.setMeterProvider(meterProvider);

  /** Value of one series (a counter's value, a histogram's count); undefined when absent. */
  const metric = (name: string, attributes: Attributes) => seriesValue(reader, name, attributes);

  async function spans(): Promise<ReadableSpan[]> {
    await tracerProvider.forceFlush();
    return exporter.getFinishedSpans();
  }

  async function shutdown(): Promise<void> {
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  }

  return { reloads, exporter, reader, meterProvider, metric, spans, shutdown };
}


/** A fresh temp dir removed after the test. */
export async function tempDir(t: TestContext, prefix = 'rs-config-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export { eventually } from '../../../test/support/eventually.ts';

/** Collect every diagnostic for assertions (and for the secret-leak check). */
export function diagnostics() {
  const seen: Array<{ code: string; message: string }> = [];
  return { seen, sink: (d: { code: string; message: string }) => void seen.push(d) };
}

/** A config watcher on `path` with its own telemetry, closed after the test; no signal listener. */
export async function start(t: TestContext, path: string, extra: Partial<WatchConfigOptions<unknown>> = {}) {
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const config = await watchConfig<unknown>({ path, instrumentation: tel.reloads, signal: false, ...extra });
  t.after(() => config.close());
  return { tel, config };
}

/** Runs of `target` with trigger `file`, by outcome. */
export async function fileRuns(tel: ReturnType<typeof telemetry>, target: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const outcome of OUTCOMES) {
    out[outcome] = (await tel.metric('hotreload.reloads', { 'hotreload.target': target, 'hotreload.trigger': 'file', 'hotreload.outcome': outcome })) ?? 0;
  }
  return out;
}

export const total = (runs: Record<string, number>) => Object.values(runs).reduce((a, b) => a + b, 0);
