import { Worker } from 'node:worker_threads';
import { isReloadError } from '@reloadscope/core';
import { ConfigError } from './errors.ts';
import { parseText, Rejection } from './parse-text.ts';
import type { SignalSource } from './read.ts';
import type { ParseJob, ParseReply } from './parse-worker.ts';

/** A user parser gets the raw bytes; throw to reject (the message is kept only as `cause`). */
export type ConfigParser<T = unknown> = (bytes: Uint8Array) => T | Promise<T>;
export type ConfigFormat = 'json' | 'yaml' | ConfigParser;

export interface ParseOptions {
  /** Stops a parse running off the main thread (the worker is terminated). */
  signal?: AbortSignal;
}

/**
 * Up to these sizes a built-in parse runs on the main thread; larger texts go to a worker thread
 * that the reload deadline terminates. Measured worst cases (warm, one core, README "Guarantees"):
 * `yaml` needs up to ~1.8 µs per byte (flow sequences, deep flow nesting), so 16 KiB blocks the
 * loop ≤ ~30 ms; JSON.parse plus the depth check needs up to ~40 ns per byte (deep nesting), so
 * 512 KiB is ≤ ~20 ms. Beyond these sizes no parse blocks the loop.
 */
export const INLINE_MAX_BYTES = { yaml: 16 * 1024, json: 512 * 1024 } as const;
/** Heap for one off-thread parse: `yaml` holds ~75 bytes of document per byte of text (10 MiB of keys: 760 MiB). */
export const PARSE_HEAP_MB = 512;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

// The worker is a sibling file: .ts when running from source (tests), .js from dist.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './parse-worker.ts' : './parse-worker.js', import.meta.url);

/** Decode strictly: binary garbage is a parse error, not a string full of U+FFFD. */
function decode(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch (err) {
    throw new ConfigError('parse_error', 'config is not valid UTF-8', { cause: err, stage: 'load' });
  }
}

export async function parseConfig(bytes: Uint8Array, format: ConfigFormat, options: ParseOptions = {}): Promise<unknown> {
  if (typeof format === 'function') {
    try {
      return await format(bytes);
    } catch (err) {
      // isReloadError first: it never touches the value, and `instanceof` on a Proxy can throw.
      if (isReloadError(err) && err instanceof ConfigError) throw err;
      throw new ConfigError('parse_error', 'custom parser rejected the config', { cause: err, stage: 'load' });
    }
  }
  return parseBuiltin(bytes, format, options);
}

/**
 * The built-in formats. Synchronous (no promise per parse on the reload path) for texts within
 * INLINE_MAX_BYTES; a promise of the off-thread parse beyond, which `abort.signal` stops (read
 * only then).
 */
export function parseBuiltin(bytes: Uint8Array, format: 'json' | 'yaml', abort?: SignalSource): unknown {
  if (format !== 'json' && format !== 'yaml') throw new TypeError(`unknown config format ${JSON.stringify(format)}`);
  const text = decode(bytes);
  if (bytes.byteLength > INLINE_MAX_BYTES[format]) return parseOffThread({ text, format }, abort?.signal);
  try {
    return parseText(text, format);
  } catch (err) {
    throw err instanceof Rejection ? toConfigError(err.code, err.message, err.cause) : err;
  }
}

function toConfigError(code: Rejection['code'] | 'too_large', message: string, cause?: unknown): ConfigError {
  return new ConfigError(code, message, { cause, stage: 'load' });
}

/** One worker per parse: nothing stays alive between reloads, and a terminated one leaves no state behind. */
function parseOffThread(job: ParseJob, signal: AbortSignal | undefined): Promise<unknown> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      worker = new Worker(WORKER_URL, {
        workerData: job,
        // Not the app's flags: a `--import` preload (an OTel register) must not run again in here.
        execArgv: [],
        resourceLimits: { maxOldGenerationSizeMb: PARSE_HEAP_MB },
      });
    } catch (err) {
      reject(toConfigError('parse_error', 'the parse thread could not start', err));
      return;
    }
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () =>
      settle(() => {
        // terminate() stops the parser mid-loop (V8 TerminateExecution): the deadline frees the CPU too.
        void worker.terminate();
        reject(signal!.reason);
      });
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (reply: ParseReply) =>
      settle(() => (reply.ok ? resolve(reply.value) : reject(toConfigError(reply.code, reply.message)))),
    );
    worker.once('error', (err: NodeJS.ErrnoException) =>
      settle(() =>
        reject(
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? toConfigError('too_large', `parsing the config needs more than ${PARSE_HEAP_MB} MiB of heap`, err)
            : toConfigError('parse_error', 'the parse thread failed', err),
        ),
      ),
    );
    worker.once('exit', () => settle(() => reject(toConfigError('parse_error', 'the parse thread exited without a result'))));
  });
}
