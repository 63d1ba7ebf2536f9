import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { redactUrl } from '@reloadscope/core';
import type { Exporter, SignalName } from './exporter.ts';
import { clearReport, reportOnce } from './report.ts';

/** What is lost when an export fails, per signal: while the application runs, and as it ends. */
const LOST: Record<SignalName, { running: string; ending: string }> = {
  traces: {
    running: 'while the application runs; its spans are dropped until an export succeeds.',
    ending: 'as the process ends; the spans of that export are lost.',
  },
  // Cumulative points carry their totals into the next export that succeeds; delta ones are lost.
  metrics: {
    running: 'while the application runs; each failed export is dropped (cumulative totals arrive with the next export that succeeds).',
    ending: 'as the process ends; the points of that export are lost.',
  },
};

/** The advice when the endpoint is the default one, per signal. */
const DEFAULT_ADVICE: Record<SignalName, string> = {
  traces: 'This is the default endpoint: set OTEL_EXPORTER_OTLP_ENDPOINT, or OTEL_TRACES_EXPORTER=none to export no traces.',
  metrics: 'This is the default endpoint: set OTEL_EXPORTER_OTLP_ENDPOINT, or leave otlp out of OTEL_METRICS_EXPORTER.',
};

export interface ReportingOptions {
  /** The variable the endpoint came from, named in the advice; undefined for the default endpoint. */
  variable?: string | undefined;
  /** Whether the process is ending (an exit path began): then nothing "keeps running". */
  exiting?: () => boolean;
}

/**
 * Wraps an OTLP exporter so that an unreachable Collector is said once, with the URL (without its
 * credentials) and the reason, instead of silently (no diag logger) or on every batch (with one).
 * When exports work again that is said once too, and a later outage is reported afresh. What is
 * said is true of the moment: a failure while the process ends loses that export, it does not
 * promise that the application keeps running.
 */
export class ReportingExporter<Batch> implements Exporter<Batch> {
  readonly #inner: Exporter<Batch>;
  readonly #url: string;
  readonly #signal: SignalName;
  readonly #advice: string;
  readonly #exiting: () => boolean;
  #failing = false;

  constructor(inner: Exporter<Batch>, url: string, signal: SignalName, options: ReportingOptions = {}) {
    this.#inner = inner;
    this.#url = redactUrl(url);
    this.#signal = signal;
    this.#advice = options.variable === undefined ? DEFAULT_ADVICE[signal] : `Check ${options.variable}.`;
    this.#exiting = options.exiting ?? (() => false);
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
    const consequence = this.#exiting() ? LOST[signal].ending : LOST[signal].running;
    reportOnce(`otlp-${signal}-failing`, `cannot export ${signal} to ${this.#url} (${describe(result.error)}) ${consequence} ${this.#advice}`);
  }
}

function describe(err: unknown): string {
  if (!err) return 'export failed';
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
