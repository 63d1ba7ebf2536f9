import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { Exporter, SignalName } from './exporter.ts';
import { reportOnce } from './report.ts';
import { settleWithin } from './settle-within.ts';

/** Which bounded exporter an HTTP request was made for (the export's async context). */
const exportScope = new AsyncLocalStorage<ExitBoundedExporter<unknown>>();
let watchingRequests = false;

/** Not in the OTLP exporter's retryable set, so an abandoned request ends its retry chain. */
const ABANDONED = 'ERR_RELOADSCOPE_SHUTDOWN_LIMIT';

/** What an export carries, as said when it is given up at the shutdown limit. */
const ITEMS: Record<SignalName, string> = { traces: 'spans', metrics: 'metric points' };

/**
 * Keeps an ending process from waiting on the Collector longer than the shutdown limit, for
 * either signal (the OTLP trace exporter and the OTLP metric exporter alike). The OTLP
 * exporter's timeout covers one export including its retries (10 s by default) and that is fine
 * while the app runs; at exit it is what made a finished process linger 8–10 s. So:
 * - once exit begins (beforeExit, shutdown(), a signal), new exports go to an exporter whose
 *   timeout is what is left of the limit, so its own retries stop in time;
 * - when the limit passes, every export still pending is answered FAILED (the batch processor
 *   stops waiting and clears its timer), the exporter's in-flight HTTP requests are destroyed with
 *   a non-retryable error, and later ones (a retry whose backoff was already scheduled) are
 *   destroyed as they start. The requests are recognised by the async context of export(), seen
 *   through Node's `http.client.request.start` diagnostics channel.
 */
export class ExitBoundedExporter<Batch> implements Exporter<Batch> {
  readonly #make: (timeoutMs: number) => Exporter<Batch>;
  readonly #timeoutMs: number;
  readonly #signal: SignalName;
  /** What set the limit, named when it gives up: the variable or the option. */
  readonly #limitSource: string;
  readonly #running: Exporter<Batch>;
  #exiting: Exporter<Batch> | undefined;
  #deadline: number | undefined;
  #limitTimer: ReturnType<typeof setTimeout> | undefined;
  #limitMs = 0;
  #abandoned = false;
  readonly #pending = new Set<(result: ExportResult) => void>();
  readonly #requests = new Set<ClientRequest>();

  constructor(make: (timeoutMs: number) => Exporter<Batch>, timeoutMs: number, signal: SignalName, limitSource = 'RELOADSCOPE_SHUTDOWN_TIMEOUT_MS') {
    this.#make = make;
    this.#timeoutMs = timeoutMs;
    this.#signal = signal;
    this.#limitSource = limitSource;
    this.#running = make(timeoutMs);
    if (!watchingRequests) {
      watchingRequests = true;
      subscribe('http.client.request.start', (message) => {
        const owner = exportScope.getStore();
        if (owner) owner.#track((message as { request: ClientRequest }).request);
      });
    }
  }

  export(batch: Batch, done: (result: ExportResult) => void): void {
    if (this.#abandoned) {
      done(abandoned(this.#limitMs));
      return;
    }
    let settled = false;
    const finish = (result: ExportResult) => {
      if (settled) return;
      settled = true;
      this.#pending.delete(finish);
      // Outside the export's context, so that whatever the caller starts next is not mistaken for ours.
      exportScope.exit(() => done(result));
    };
    this.#pending.add(finish);
    try {
      exportScope.run(this as ExitBoundedExporter<unknown>, () => this.#target().export(batch, finish));
    } catch (err) {
      finish({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  /** Whether an exit path began and was not called off: the process is ending. */
  get exiting(): boolean {
    return this.#deadline !== undefined;
  }

  /** Start the exit clock (idempotent: the first exit path sets the one deadline). */
  beginExit(deadline: number, limitMs: number): void {
    if (this.#deadline !== undefined) return;
    this.#deadline = deadline;
    this.#limitMs = limitMs;
    this.#limitTimer = setTimeout(() => this.#abandon(), Math.max(0, deadline - Date.now()));
    this.#limitTimer.unref();
  }

  /**
   * The process did not end after all (a beforeExit listener scheduled more work): back to normal
   * exports. `giveUp` first abandons what is still pending, as the deadline would have.
   */
  cancelExit(giveUp: boolean): void {
    if (this.#deadline === undefined) return;
    if (giveUp) this.#abandon();
    clearTimeout(this.#limitTimer);
    this.#deadline = undefined;
    this.#abandoned = false;
    this.#exiting = undefined;
  }

  forceFlush(): Promise<void> {
    return this.#bounded(Promise.all([this.#running.forceFlush?.(), this.#exiting?.forceFlush?.()]));
  }

  shutdown(): Promise<void> {
    return this.#bounded(Promise.all([this.#running.shutdown(), this.#exiting?.shutdown()]));
  }

  async #bounded(work: Promise<unknown>): Promise<void> {
    if (this.#deadline === undefined) {
      await work;
      return;
    }
    await settleWithin(work, this.#deadline - Date.now());
  }

  #target(): Exporter<Batch> {
    if (this.#deadline === undefined) return this.#running;
    this.#exiting ??= this.#make(Math.max(1, Math.min(this.#timeoutMs, this.#deadline - Date.now())));
    return this.#exiting;
  }

  #track(request: ClientRequest): void {
    if (this.#abandoned) {
      // Destroyed on the next tick: the request is still being constructed when this runs.
      process.nextTick(() => request.destroy(abandonedError(this.#limitMs)));
      return;
    }
    this.#requests.add(request);
    request.once('close', () => this.#requests.delete(request));
  }

  #abandon(): void {
    this.#abandoned = true;
    const pending = [...this.#pending];
    for (const finish of pending) finish(abandoned(this.#limitMs));
    for (const request of this.#requests) request.destroy(abandonedError(this.#limitMs));
    this.#requests.clear();
    if (pending.length > 0) {
      reportOnce(
        `shutdown-limit:${this.#signal}`,
        `gave up on ${pending.length} pending ${this.#signal === 'traces' ? 'trace' : 'metric'} ${pending.length === 1 ? 'export' : 'exports'} ` +
          `when the ${this.#limitMs} ms shutdown limit passed (${this.#limitSource}); those ${ITEMS[this.#signal]} are lost.`,
      );
    }
  }
}

function abandonedError(limitMs: number): Error {
  return Object.assign(new Error(`export abandoned: the ${limitMs} ms shutdown limit passed`), { code: ABANDONED });
}

function abandoned(limitMs: number): ExportResult {
  return { code: ExportResultCode.FAILED, error: abandonedError(limitMs) };
}
