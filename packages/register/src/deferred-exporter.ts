import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { Exporter } from './exporter.ts';

/**
 * An exporter (of spans or metrics) created on first use: `load` (an import() and a constructor) runs at the first
 * export, flush or shutdown that needs it, or when `load()` is called, and once. Exports that
 * arrive meanwhile wait for it, in their own async context (which ExitBoundedExporter relies on
 * to recognise the exporter's HTTP requests). A load that fails fails each export with its error.
 */
export class DeferredExporter<Batch> implements Exporter<Batch> {
  readonly #create: () => Promise<Exporter<Batch>>;
  #loading: Promise<Exporter<Batch>> | undefined;
  #exporter: Exporter<Batch> | undefined;

  constructor(create: () => Promise<Exporter<Batch>>) {
    this.#create = create;
  }

  load(): Promise<Exporter<Batch>> {
    this.#loading ??= this.#create().then((exporter) => {
      this.#exporter = exporter;
      return exporter;
    });
    return this.#loading;
  }

  export(batch: Batch, done: (result: ExportResult) => void): void {
    if (this.#exporter) {
      this.#exporter.export(batch, done);
      return;
    }
    this.load().then(
      (exporter) => exporter.export(batch, done),
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
