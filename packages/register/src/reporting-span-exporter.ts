import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { redactUrl } from '@reloadscope/core';
import { clearReport, reportOnce } from './report.ts';

export interface ReportingOptions {
  /** The variable the endpoint came from, named in the advice; undefined for the default endpoint. */
  variable?: string | undefined;
  /** Whether the process is ending (an exit path began): then nothing "keeps running". */
  exiting?: () => boolean;
}

/**
 * Wraps the OTLP exporter so that an unreachable Collector is said once, with the URL (without
 * its credentials) and the reason, instead of silently (no diag logger) or on every batch (with
 * one). When exports work again that is said once too, and a later outage is reported afresh. What
 * is said is true of the moment: a failure while the process ends loses that export's spans, it
 * does not promise that the application keeps running.
 */
export class ReportingSpanExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #url: string;
  readonly #advice: string;
  readonly #exiting: () => boolean;
  #failing = false;

  constructor(inner: SpanExporter, url: string, options: ReportingOptions = {}) {
    this.#inner = inner;
    this.#url = redactUrl(url);
    this.#advice =
      options.variable === undefined
        ? 'This is the default endpoint: set OTEL_EXPORTER_OTLP_ENDPOINT, or OTEL_TRACES_EXPORTER=none to export no traces.'
        : `Check ${options.variable}.`;
    this.#exiting = options.exiting ?? (() => false);
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
    const consequence = this.#exiting()
      ? 'as the process ends; the spans of that export are lost.'
      : 'while the application runs; its spans are dropped until an export succeeds.';
    reportOnce('otlp-traces-failing', `cannot export traces to ${this.#url} (${describe(result.error)}) ${consequence} ${this.#advice}`);
  }
}

function describe(err: unknown): string {
  if (!err) return 'export failed';
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
