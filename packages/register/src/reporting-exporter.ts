import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { Exporter, SignalName } from './exporter.ts';
import { clearReport, reportOnce } from './report.ts';
import { withoutUserinfo } from './url-display.ts';

/** What is lost while exports fail, per signal. */
const LOST: Record<SignalName, string> = {
  traces: 'spans are dropped while the Collector is unreachable',
  // Cumulative points carry their totals into the next export that succeeds; delta ones are lost.
  metrics: 'each failed export is dropped (cumulative totals arrive with the next export that succeeds)',
};

/**
 * Wraps an OTLP exporter so that an unreachable Collector is said once, with the URL (without
 * userinfo) and the reason, instead of silently (no diag logger) or on every batch (with one).
 * When exports work again that is said once too, and a later outage is reported afresh.
 */
export class ReportingExporter<Batch> implements Exporter<Batch> {
  readonly #inner: Exporter<Batch>;
  readonly #url: string;
  readonly #signal: SignalName;
  #failing = false;

  constructor(inner: Exporter<Batch>, url: string, signal: SignalName) {
    this.#inner = inner;
    this.#url = withoutUserinfo(url);
    this.#signal = signal;
  }

  export(batch: Batch, done: (result: ExportResult) => void): void {
    try {
      this.#inner.export(batch, (result) => {
        this.#note(result);
        done(result);
      });
    } catch (err) {
      const result = { code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) };
      this.#note(result);
      done(result);
    }
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }

  #note(result: ExportResult): void {
    const signal = this.#signal;
    if (result.code === ExportResultCode.SUCCESS) {
      if (this.#failing) {
        this.#failing = false;
        clearReport(`otlp-${signal}-failing`);
        reportOnce(`otlp-${signal}-recovered`, `${signal === 'traces' ? 'trace' : 'metric'} export to ${this.#url} works again.`);
      }
      return;
    }
    this.#failing = true;
    clearReport(`otlp-${signal}-recovered`);
    reportOnce(
      `otlp-${signal}-failing`,
      `cannot export ${signal} to ${this.#url} (${describe(result.error)}). The application keeps running; ` +
        `${LOST[signal]}. Check OTEL_EXPORTER_OTLP_ENDPOINT.`,
    );
  }
}

function describe(err: unknown): string {
  if (!err) return 'export failed';
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
