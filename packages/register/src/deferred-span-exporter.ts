import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

/**
 * A span exporter created on first use: `load` (an import() and a constructor) runs at the first
 * export, flush or shutdown that needs it, or when `load()` is called, and once. Exports that
 * arrive meanwhile wait for it, in their own async context (which ExitBoundedExporter relies on
 * to recognise the exporter's HTTP requests). A load that fails fails each export with its error.
 */
export class DeferredSpanExporter implements SpanExporter {
  readonly #create: () => Promise<SpanExporter>;
  #loading: Promise<SpanExporter> | undefined;
  #exporter: SpanExporter | undefined;

  constructor(create: () => Promise<SpanExporter>) {
    this.#create = create;
  }

  load(): Promise<SpanExporter> {
    this.#loading ??= this.#create().then((exporter) => {
      this.#exporter = exporter;
      return exporter;
    });
    return this.#loading;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (this.#exporter) {
      this.#exporter.export(spans, done);
      return;
    }
    this.load().then(
      (exporter) => exporter.export(spans, done),
      (err: unknown) => done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) }),
    );
  }

  /** Nothing to flush before the first export has loaded the exporter. */
  async forceFlush(): Promise<void> {
    const exporter = await this.#loading?.catch(() => undefined);
    await exporter?.forceFlush?.();
  }

  /** An exporter never loaded is not loaded to be shut down. */
  async shutdown(): Promise<void> {
    const exporter = await this.#loading?.catch(() => undefined);
    await exporter?.shutdown();
  }
}
