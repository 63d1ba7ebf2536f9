import type { ExportResult } from '@opentelemetry/core';

/**
 * What register's exporter wrappers need from an exporter, whatever it exports: the shape
 * `SpanExporter` (a batch of spans) and `PushMetricExporter` (one ResourceMetrics) share.
 */
export interface Exporter<Batch> {
  export(batch: Batch, done: (result: ExportResult) => void): void;
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The signal an exporter carries, as said in reloadscope's notices. */
export type SignalName = 'traces' | 'metrics';
