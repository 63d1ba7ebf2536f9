import type { ReloadResult, ReloadTrigger } from '@reloadscope/core';
import type { DiagnosticSink } from './diagnostics.ts';
import { listenForReloads, type ReloadListener, type ReloadListenerOptions } from './http-trigger.ts';
import { symlinkedAncestors } from './locate.ts';
import { onReloadSignal } from './signal.ts';
import { DEFAULT_DEBOUNCE_MS, DEFAULT_MAX_WAIT_MS, type DirectoryWatch, debounce, type WatchOptions, watchFiles } from './watch.ts';

/** What the triggers need from a long-lived reloader. */
export interface TriggeredReloader {
  reload(request: { trigger: ReloadTrigger }): Promise<ReloadResult>;
}

export interface TriggerOptions {
  watch?: boolean | WatchOptions;
  http?: ReloadListenerOptions | false;
}

/**
 * The event sources of a long-lived reloader (signal, directory watch, HTTP), wired the same way
 * for every kind of reloaded thing. Events never throw into their emitter, and events that arrive
 * before the first load has succeeded are remembered and replayed once after it: the first load
 * may have read the file before the change that the event announces.
 */
export class ReloadTriggers {
  readonly #reloader: TriggeredReloader;
  readonly #options: TriggerOptions;
  readonly #report: DiagnosticSink;
  #watch: DirectoryWatch | undefined;
  #stopSignal: (() => void) | undefined;
  #http: ReloadListener | undefined;
  #ready = false;
  #closed = false;
  #deferred: ReloadTrigger | undefined;

  constructor(reloader: TriggeredReloader, options: TriggerOptions, report: DiagnosticSink) {
    this.#reloader = reloader;
    this.#options = options;
    this.#report = report;
  }

  get http(): ReloadListener | undefined {
    return this.#http;
  }

  /** Every trigger these options can produce (so their series can be declared at startup). */
  triggers(signal: NodeJS.Signals | undefined): ReloadTrigger[] {
    const triggers: ReloadTrigger[] = ['startup', 'api'];
    // 'poll' too: the watcher falls back to polling when fs.watch fails at runtime.
    if (this.#options.watch !== false) triggers.push('file', 'poll');
    if (signal) triggers.push('signal');
    if (this.#options.http) triggers.push('http');
    return triggers;
  }

  /** Install the signal listener: call before anything slow (an unhandled SIGHUP kills the process). */
  listenForSignal(signal: NodeJS.Signals): void {
    // Leading edge: one SIGHUP reloads at once; a storm is that run plus one trailing run.
    const w = this.#watchOptions();
    const debounced = debounce(() => this.fire('signal'), w.debounceMs ?? DEFAULT_DEBOUNCE_MS, w.maxWaitMs ?? DEFAULT_MAX_WAIT_MS, { leading: true });
    const stop = onReloadSignal(signal, debounced.trigger, this.#report);
    if (!stop) return;
    this.#stopSignal = () => {
      stop();
      debounced.cancel();
    };
  }

  /**
   * The first load succeeded: replay a trigger that arrived during it, then start the watch (on
   * the files' directories and on every symlinked ancestor, for Kubernetes' `..data` swap) and
   * the HTTP listener.
   */
  async ready(files: readonly string[]): Promise<void> {
    this.#ready = true;
    if (this.#deferred) await this.#reloader.reload({ trigger: this.#deferred });
    if (this.#closed) return;
    if (this.#options.watch !== false) {
      const ancestors = (await Promise.all(files.map((f) => symlinkedAncestors(f)))).flat();
      if (this.#closed) return;
      this.#watch = watchFiles([...new Set([...files, ...ancestors])], (trigger) => this.fire(trigger), this.#watchOptions(), this.#report);
    }
    if (this.#options.http && !this.#closed) this.#http = await listenForReloads(this.#reloader, this.#options.http);
  }

  /** An event-driven reload: never throws into the event's emitter. */
  fire(trigger: ReloadTrigger): void {
    if (this.#closed) return;
    if (!this.#ready) {
      this.#deferred = trigger;
      return;
    }
    this.#reloader.reload({ trigger }).catch(() => {});
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopSignal?.();
    this.#watch?.close();
    await this.#http?.close();
  }

  #watchOptions(): WatchOptions {
    return typeof this.#options.watch === 'object' ? this.#options.watch : {};
  }
}
