import type { ReloadResult, ReloadTrigger } from '@reloadscope/core';
import { type DiagnosticSink, diagnosticSink } from './diagnostics.ts';
import { checkListenerOptions } from './http-options.ts';
import { listenForReloads, type ReloadListener, type ReloadListenerOptions } from './http-trigger.ts';
import type { Options } from './options.ts';
import { checkReloadSignal, onReloadSignal } from './signal.ts';
import { checkWatchOptions, type DirectoryWatch, debounce, type WatchOptions, type WatchSettings, watchFiles } from './watch.ts';

/** The trigger options every long-lived reloader takes (watchConfig, watchTls), as given. */
export interface TriggerOptions {
  /** Directory watch (default on). `{ pollMs }` polls instead of using filesystem events. */
  watch?: boolean | WatchOptions;
  /** Reload signal, default SIGHUP; false for none. SIGUSR1 is refused. */
  signal?: NodeJS.Signals | false;
  /** Start a standalone HTTP reload listener (off by default). */
  http?: ReloadListenerOptions | false;
  /** Where warnings go (subPath mounts, rejected reloads…). Default: the OpenTelemetry diag logger. */
  onDiagnostic?: DiagnosticSink;
}

/** The same options, checked and with defaults applied. */
export interface TriggerSettings {
  signal: NodeJS.Signals | undefined;
  /** Also the signal debounce's timing, so it exists with `watch: false` too. */
  watch: WatchSettings;
  watching: boolean;
  http: ReloadListenerOptions | undefined;
  report: DiagnosticSink;
}

/** The one check of the trigger options: watchConfig and watchTls share it, and its messages. */
export function checkTriggerOptions(o: Options): TriggerSettings {
  const watch = o.get('watch');
  if (watch !== undefined && typeof watch !== 'boolean' && (typeof watch !== 'object' || watch === null)) {
    o.fail('watch', 'true, false or { debounceMs, maxWaitMs, pollMs }', watch);
  }
  const signal = o.get('signal');
  if (signal !== undefined && signal !== false && typeof signal !== 'string') o.fail('signal', "a signal name such as 'SIGHUP', or false", signal);
  const http = o.get('http');
  if (http !== undefined && http !== false) checkListenerOptions(o.child('http')!);
  return {
    signal: signal === false ? undefined : checkReloadSignal((signal as string | undefined) ?? 'SIGHUP'),
    watch: checkWatchOptions(typeof watch === 'object' ? o.child('watch') : undefined),
    watching: watch !== false,
    http: http === undefined || http === false ? undefined : (http as ReloadListenerOptions),
    report: diagnosticSink(o.function<DiagnosticSink>('onDiagnostic')),
  };
}

/** What the triggers need from a long-lived reloader. */
export interface TriggeredReloader {
  reload(request: { trigger: ReloadTrigger }): Promise<ReloadResult>;
}

/**
 * The event sources of a long-lived reloader (signal, directory watch, HTTP), wired the same way
 * for every kind of reloaded thing. Events never throw into their emitter, and events that arrive
 * before the first load has succeeded are remembered and replayed once after it: the first load
 * may have read the file before the change that the event announces.
 */
export class ReloadTriggers {
  readonly #reloader: TriggeredReloader;
  readonly #settings: TriggerSettings;
  #watch: DirectoryWatch | undefined;
  #stopSignal: (() => void) | undefined;
  #http: ReloadListener | undefined;
  #ready = false;
  #closed = false;
  #deferred: ReloadTrigger | undefined;

  constructor(reloader: TriggeredReloader, settings: TriggerSettings) {
    this.#reloader = reloader;
    this.#settings = settings;
  }

  get http(): ReloadListener | undefined {
    return this.#http;
  }

  /** Every trigger these settings can produce, so their series can be declared at startup. */
  triggers(): ReloadTrigger[] {
    const s = this.#settings;
    const triggers: ReloadTrigger[] = ['startup', 'api'];
    // 'poll' too: the watcher falls back to polling when fs.watch fails at runtime.
    if (s.watching) triggers.push('file', 'poll');
    if (s.signal) triggers.push('signal');
    if (s.http) triggers.push('http');
    return triggers;
  }

  /** Install the signal listener: call before any await (an unhandled SIGHUP kills the process). */
  listenForSignal(): void {
    const signal = this.#settings.signal;
    if (!signal) return;
    // Leading edge: one SIGHUP reloads at once; a storm (a loop of `kill -HUP`, a process manager
    // signalling every child) is that run plus one trailing run, not one run per delivered signal.
    const w = this.#settings.watch;
    const debounced = debounce(() => this.fire('signal'), w.debounceMs, w.maxWaitMs, { leading: true });
    const stop = onReloadSignal(signal, debounced.trigger, this.#settings.report);
    if (!stop) return;
    this.#stopSignal = () => {
      stop();
      debounced.cancel();
    };
  }

  /**
   * The first load succeeded: replay a trigger that arrived during it, then start the watch (on
   * every entry the files resolve through: each symlink of their chains, Kubernetes' `..data`
   * included, and the directories the files really are in) and the HTTP listener.
   */
  async ready(files: readonly string[]): Promise<void> {
    this.#ready = true;
    if (this.#deferred) await this.#reloader.reload({ trigger: this.#deferred });
    const s = this.#settings;
    if (s.watching && !this.#closed) {
      this.#watch = watchFiles([...new Set(files)], (trigger) => this.fire(trigger), s.watch, s.report);
      await this.#watch.ready;
    }
    if (s.http && !this.#closed) this.#http = await listenForReloads(this.#reloader, { onDiagnostic: s.report, ...s.http });
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
}

/** Start a long-lived reloader; if its start fails, close what it opened (signal listener, watch) and rethrow. */
export async function startOrClose<W extends { start(): Promise<void>; close(): Promise<void> }>(watcher: W): Promise<W> {
  try {
    await watcher.start();
  } catch (err) {
    await watcher.close();
    throw err;
  }
  return watcher;
}
