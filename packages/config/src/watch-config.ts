import { readFile, realpath } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import {
  ReloadInstrumentation,
  type ReloadResult,
  type ReloadStages,
  type ReloadTrigger,
  type StageContext,
  type TargetClaim,
  isReloadError,
} from '@reloadscope/core';
import { type DiagnosticSink, reportRejection } from './diagnostics.ts';
import { ConfigError } from './errors.ts';
import { LazyAbortController } from './lazy-abort.ts';
import { resolveFile, } from './locate.ts';
import type { ReloadListener, } from './http-trigger.ts';
import { Options } from './options.ts';
import { type ConfigFormat, parseBuiltin, parseConfig } from './parse.ts';
import { CONFIG_FILE, readRegular } from './read.ts';
import { SerialGuard, serialOptions } from './serial.ts';
import { checkSha256File, checkSignature, type IntegrityOptions, toPublicKey, validateSchema } from './verify.ts';
import { checkTriggerOptions, ReloadTriggers, startOrClose, type TriggerOptions, type TriggerSettings } from './triggers.ts';
import { isFileMountPoint } from './watch.ts';

export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

// Abort reasons are created once, here: an Error made inside a reload captures a stack whose
// frames reference that reload's closures, so anything still holding an old version's signal
// would keep the whole old version (and its config value) alive through `signal.reason`.
const UNLOADED = new DOMException('config version unloaded: a newer version replaced it', 'AbortError');
const ROLLED_BACK = new DOMException('config version rolled back: an onChange listener rejected it', 'AbortError');
const CLOSED = new DOMException('config watcher closed', 'AbortError');

/** `watch`, `signal`, `http` and `onDiagnostic` are the trigger options watchTls shares. */
export interface WatchConfigOptions<T> extends TriggerOptions {
  /** The config file, or a directory holding it (a Kubernetes ConfigMap volume). */
  path: string;
  /** File name inside `path` when `path` is a directory. Default: the only `*.json|yaml|yml` there. */
  file?: string;
  /** Default: from the extension (`.json` → json, otherwise yaml). */
  format?: ConfigFormat;
  /** Any Standard Schema (zod, valibot, arktype…); its output becomes `current`. */
  schema?: StandardSchemaV1<unknown, T>;
  /** Default: a new ReloadInstrumentation (which uses the global providers). */
  instrumentation?: ReloadInstrumentation;
  /** `hotreload.target`. Default: the config file's base name. */
  target?: string;
  verify?: IntegrityOptions;
  /** Default 10 MiB. */
  maxBytes?: number;
  /** Deadline per reload. Default: the instrumentation's default (30 s). */
  timeoutMs?: number;
}

/** Handed to `onChange` subscribers. */
export interface ChangeInfo {
  /** Aborted when this version is unloaded (replaced) or rolled back: tie timers/listeners to it. */
  signal: AbortSignal;
  hash: string;
  previousHash: string;
  trigger: ReloadTrigger;
}

export type ChangeListener<T> = (next: T, previous: T, info: ChangeInfo) => unknown;

export interface ReloadRequest {
  trigger?: ReloadTrigger;
  force?: boolean;
  timeoutMs?: number;
}

export interface ConfigWatcher<T> {
  /** The active, validated value (never a rejected one). */
  readonly current: T;
  /** sha256 of the active file bytes. */
  readonly hash: string;
  /** Aborted when the active version is replaced: listeners tied to it get released. */
  readonly versionSignal: AbortSignal;
  readonly target: string;
  /** Resolved file being read. */
  readonly file: string;
  /** The standalone HTTP listener, when `http` was given. */
  readonly http: ReloadListener | undefined;
  onChange(listener: ChangeListener<T>): () => void;
  /** Never throws for a failed reload: the result's outcome says what happened. */
  reload(request?: ReloadRequest): Promise<ReloadResult>;
  close(): Promise<void>;
}

interface Candidate {
  bytes: Buffer;
  hash: string;
  size: number;
  value: unknown;
}

interface Version<T> {
  value: T;
  hash: string;
  controller: LazyAbortController;
}

interface Switch<T> {
  previous: Version<T> | undefined;
  next: Version<T>;
  notified: ChangeListener<T>[];
  undone: boolean;
  trigger: ReloadTrigger;
}

/**
 * Load, verify and start watching a config. Rejects (with a ConfigError carrying a stable `code`)
 * when the first load fails: a service should not start on a bad config. Later reloads never
 * replace the active value with one that failed to read, parse, verify or switch.
 */
export async function watchConfig<T = unknown>(options: WatchConfigOptions<T>): Promise<ConfigWatcher<T>> {
  // First, before any await: a SIGHUP that arrives with no listener kills the process.
  const settings = checkOptions(options);
  const watcher = new ConfigWatcherImpl<T>(options, settings);
  watcher.listenForSignal();
  return startOrClose(watcher);
}

interface Settings extends TriggerSettings {
  maxBytes: number;
  instrumentation: ReloadInstrumentation;
}

// A NUL byte makes every fs call throw; refused here with the option's name instead.
const NO_NUL = { pattern: /^[^\0]*$/, patternText: 'without NUL bytes' };

/** Every option, checked before anything starts: a bad one is a TypeError naming it. */
function checkOptions<T>(options: WatchConfigOptions<T>): Settings {
  const o = Options.of('watchConfig', options);
  o.required('path', o.string('path', NO_NUL), 'a non-empty string');
  o.string('file', NO_NUL);
  o.string('target');
  const format = o.get('format');
  if (format !== undefined && format !== 'json' && format !== 'yaml' && typeof format !== 'function') {
    o.fail('format', "'json', 'yaml' or a parser function", format);
  }
  const schema = o.get('schema') as WatchConfigOptions<T>['schema'];
  if (schema !== undefined && typeof schema?.['~standard']?.validate !== 'function') {
    o.fail('schema', 'a Standard Schema (with ~standard.validate)', schema);
  }
  const instrumentation = o.withMethods<ReloadInstrumentation>('instrumentation', ['reload', 'declareTarget']);
  const verify = o.child('verify');
  verify?.string('sha256File', NO_NUL);
  verify?.string('signatureFile', NO_NUL);
  const publicKey = verify?.get('publicKey');
  if (publicKey !== undefined) {
    try {
      toPublicKey(publicKey as Parameters<typeof toPublicKey>[0]);
    } catch {
      verify!.fail('publicKey', 'an Ed25519 public key (PEM string, DER/PEM Buffer or KeyObject)', publicKey);
    }
  }
  o.duration('timeoutMs');
  return {
    ...checkTriggerOptions(o),
    maxBytes: o.integer('maxBytes', 1) ?? DEFAULT_MAX_BYTES,
    instrumentation: instrumentation ?? new ReloadInstrumentation(),
  };
}

/** `reload(request)`'s options; watchTls takes the same. */
export function checkReloadRequest(request: ReloadRequest): void {
  const o = Options.of('reload', request, 'request');
  o.string('trigger', { maxLength: 64 });
  o.boolean('force');
  o.duration('timeoutMs');
}

class ConfigWatcherImpl<T> implements ConfigWatcher<T> {
  readonly #options: WatchConfigOptions<T>;
  readonly #reloads: ReloadInstrumentation;
  readonly #maxBytes: number;
  readonly #report: DiagnosticSink;
  readonly #listeners: ChangeListener<T>[] = [];
  readonly #serials: SerialGuard | undefined;
  // Core serialises runs per target and settles coalesced requests with the run that served them,
  // so the latest request settles last: close() only needs to wait for it.
  #latest: Promise<ReloadResult> | undefined;
  // Built once: the reload path allocates no closures per run.
  readonly #stages: ReloadStages<Candidate, Version<T> | undefined> = {
    load: (ctx) => this.#load(ctx),
    identify: (c) => ({ hash: c.hash, size: c.size }),
    verify: (c) => this.#verify(c),
    switch: (c, ctx) => this.#switchTo(c, ctx),
    rollback: () => this.#rollback(),
    unload: (previous) => this.#unload(previous),
  };
  #file = '';
  #target = '';
  #format: ConfigFormat = 'yaml';
  #active: Version<T> | undefined;
  #switch: Switch<T> | undefined;
  readonly #events: ReloadTriggers;
  #claim: TargetClaim | undefined;
  #closed = false;

  constructor(options: WatchConfigOptions<T>, settings: Settings) {
    this.#options = options;
    this.#reloads = settings.instrumentation;
    this.#maxBytes = settings.maxBytes;
    this.#report = settings.report;
    this.#events = new ReloadTriggers(this, settings);
    const serial = serialOptions(options.verify?.serial, 'watchConfig: options.verify.serial', options.verify?.publicKey !== undefined);
    this.#serials = serial && new SerialGuard(serial, settings.report, () => this.#target);
  }

  get current(): T {
    return this.#version().value;
  }
  get hash(): string {
    return this.#version().hash;
  }
  get versionSignal(): AbortSignal {
    return this.#version().controller.signal;
  }
  get target(): string {
    return this.#target;
  }
  get file(): string {
    return this.#file;
  }
  get http(): ReloadListener | undefined {
    return this.#events.http;
  }

  #version(): Version<T> {
    if (!this.#active) throw new Error('@reloadscope/config: no config is active yet');
    return this.#active;
  }

  listenForSignal(): void {
    this.#events.listenForSignal();
  }

  async start(): Promise<void> {
    const options = this.#options;
    this.#file = await resolveFile(options.path, options.file);
    this.#target = options.target ?? basename(this.#file);
    // Two watchers on one target would share its state: one's change skipped as `unchanged`.
    this.#claim = this.#reloads.claimTarget(this.#target, `watchConfig(${this.#file})`);
    this.#format = options.format ?? (extname(this.#file) === '.json' ? 'json' : 'yaml');
    // Every (trigger, outcome) series this watcher can produce exists at 0 from startup.
    this.#reloads.declareTarget(this.#target, this.#events.triggers());
    // force: a reused instrumentation may already hold this hash from an earlier watcher.
    const result = await this.reload({ trigger: 'startup', force: true });
    if (result.outcome !== 'success' || !this.#active) {
      const error = result.error;
      const cause = error?.cause;
      if (isReloadError(cause) && cause instanceof ConfigError) throw cause;
      throw new ConfigError(
        'read_error',
        `initial config load ended with ${result.outcome}${error ? ` (${error.code})` : ''}`,
        { cause: cause ?? error },
      );
    }
    await this.#detectSubPath();
    // A signal that arrived during the first load may announce a newer file: replayed before resolving.
    await this.#events.ready(this.#watchedFiles());
  }

  #watchedFiles(): string[] {
    const files = [this.#file];
    const v = this.#options.verify;
    if (v?.sha256File) files.push(resolve(v.sha256File));
    if (v?.publicKey !== undefined) files.push(resolve(v.signatureFile ?? `${this.#file}.sig`));
    return files;
  }

  async #detectSubPath(): Promise<void> {
    if (process.platform !== 'linux') return;
    try {
      const real = await realpath(this.#file);
      if (isFileMountPoint(real, await readFile('/proc/self/mountinfo', 'utf8'))) {
        this.#report({
          code: 'subpath_mount',
          message: `${this.#target}: the config file is a mount point of its own (a Kubernetes subPath mount?); it will never see ConfigMap updates — mount the directory instead`,
        });
      }
    } catch {
      // No mountinfo (or no realpath): nothing to warn about.
    }
  }

  onChange(listener: ChangeListener<T>): () => void {
    if (typeof listener !== 'function') throw new TypeError('onChange(listener): listener must be a function');
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  reload(request: ReloadRequest = {}): Promise<ReloadResult> {
    if (this.#closed) return Promise.reject(new Error('@reloadscope/config: reload() after close()'));
    try {
      checkReloadRequest(request);
    } catch (err) {
      return Promise.reject(err);
    }
    const trigger = request.trigger ?? 'api';
    const options = {
      target: this.#target,
      trigger,
      force: request.force,
      timeoutMs: request.timeoutMs ?? this.#options.timeoutMs,
    };
    const p = this.#reloads.reload(options, this.#stages).then(this.#reported);
    this.#latest = p;
    return p;
  }

  // Built once, like #stages.
  readonly #reported = (result: ReloadResult): ReloadResult => {
    reportRejection(this.#report, result);
    return result;
  };

  async #load(ctx: StageContext): Promise<Candidate> {
    // The context, not ctx.signal: its AbortSignal is created only if a large file needs it.
    const { bytes, hash, size } = await readRegular(this.#file, this.#maxBytes, CONFIG_FILE, ctx);
    // Named before parsing: a file on disk that does not parse is still the newest candidate.
    ctx.candidate({ hash, size });
    const format = this.#format;
    const parsed = typeof format === 'function' ? await parseConfig(bytes, format) : parseBuiltin(bytes, format, ctx);
    // A large text is parsed off-thread (a promise the deadline can stop); a small one needs no await.
    const value = parsed instanceof Promise ? await parsed : parsed;
    return { bytes, hash, size, value };
  }

  /** Synchronous (no promise) when there is nothing to check. */
  #verify(c: Candidate): Promise<void> | undefined {
    const v = this.#options.verify;
    if (!v?.sha256File && v?.publicKey === undefined && !this.#options.schema) return undefined;
    return this.#verifyWith(c, v);
  }

  async #verifyWith(c: Candidate, v: IntegrityOptions | undefined): Promise<void> {
    if (v?.sha256File) await checkSha256File(v.sha256File, c.hash);
    if (v?.publicKey !== undefined) await checkSignature(c.bytes, v.signatureFile ?? `${this.#file}.sig`, toPublicKey(v.publicKey));
    // After the signature: the serial is only trusted because it is inside the signed bytes.
    if (this.#serials) await this.#serials.check(c.value, c.hash);
    if (this.#options.schema) c.value = await validateSchema(this.#options.schema, c.value);
  }

  /** Synchronous when no listener has to be told (the first load, or no onChange subscribers). */
  #switchTo(c: Candidate, ctx: StageContext): Version<T> | undefined | Promise<Version<T> | undefined> {
    const previous = this.#active;
    const next: Version<T> = { value: c.value as T, hash: c.hash, controller: new LazyAbortController() };
    const tx: Switch<T> = { previous, next, notified: [], undone: false, trigger: ctx.trigger };
    this.#switch = tx;
    this.#active = next;
    if (!previous || this.#listeners.length === 0) return previous;
    return this.#notify(tx, previous, next, ctx.trigger);
  }

  async #notify(tx: Switch<T>, previous: Version<T>, next: Version<T>, trigger: ReloadTrigger): Promise<Version<T>> {
    const info: ChangeInfo = { signal: next.controller.signal, hash: next.hash, previousHash: previous.hash, trigger };
    for (const listener of [...this.#listeners]) {
      if (tx.undone) break;
      tx.notified.push(listener);
      try {
        await listener(next.value, previous.value, info);
      } catch (err) {
        // A listener that explains itself with a ReloadError keeps its code (e.g. restart_required).
        if (isReloadError(err)) throw err;
        throw new ConfigError('subscriber_failed', 'an onChange listener threw; the switch is rolled back', { cause: err, stage: 'switch' });
      }
    }
    return previous;
  }

  /** Undo the last switch for everyone: listeners that saw the new value are told to go back. */
  async #rollback(): Promise<void> {
    const tx = this.#switch;
    if (!tx || tx.undone || this.#active !== tx.next) return;
    tx.undone = true;
    this.#active = tx.previous;
    tx.next.controller.abort(ROLLED_BACK);
    const previous = tx.previous;
    if (!previous) return;
    const info: ChangeInfo = { signal: previous.controller.signal, hash: previous.hash, previousHash: tx.next.hash, trigger: tx.trigger };
    for (const listener of tx.notified) {
      try {
        await listener(previous.value, tx.next.value, info);
      } catch {
        this.#report({ code: 'rollback_notify_failed', message: `${this.#target}: an onChange listener also threw while being rolled back` });
      }
    }
  }

  #unload(previous: Version<T> | undefined): Promise<void> | undefined {
    this.#switch = undefined;
    previous?.controller.abort(UNLOADED);
    // Only a version that really became active raises the rollback floor.
    return this.#serials?.commit(this.#active?.hash);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#events.close();
    await this.#latest?.catch(() => {});
    this.#active?.controller.abort(CLOSED);
    this.#claim?.release();
  }
}
