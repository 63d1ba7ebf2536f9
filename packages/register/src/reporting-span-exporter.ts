import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { clearReport, reportOnce } from './report.ts';

/**
 * Wraps the OTLP exporter so that an unreachable Collector is said once, with the URL and the
 * reason, instead of silently (no diag logger) or on every batch (with one). When exports work
 * again that is said once too, and a later outage is reported afresh.
 */
export class ReportingSpanExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #url: string;
  #failing = false;

  constructor(inner: SpanExporter, url: string) {
    this.#inner = inner;
    this.#url = url;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      this.#inner.export(spans, (result) => {
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
    if (result.code === ExportResultCode.SUCCESS) {
      if (this.#failing) {
        this.#failing = false;
        clearReport('otlp-traces-failing');
        reportOnce('otlp-traces-recovered', `trace export to ${this.#url} works again.`);
      }
      return;
    }
    this.#failing = true;
    clearReport('otlp-traces-recovered');
    reportOnce(
      'otlp-traces-failing',
      `cannot export traces to ${this.#url} (${describe(result.error)}). The application keeps running; ` +
        'spans are dropped while the Collector is unreachable. Check OTEL_EXPORTER_OTLP_ENDPOINT.',
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
