import type { ReloadStage } from './semconv.ts';
import { STAGES } from './semconv.ts';
import { CODE_PATTERN, describeValue, inspectThrown, isGenuine, markGenuine } from './thrown.ts';

/**
 * The codes core itself produces. User and add-on codes (e.g. @reloadscope/config's
 * CONFIG_ERROR_CODES) come from their own ReloadErrors; every code is snake_case, at most 64 chars.
 */
export const CORE_ERROR_CODES = ['timeout', 'reload_failed', 'rollback_failed', 'target_limit', 'target_in_use'] as const;
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

/**
 * An error that is a value: a stable `code` (becomes the span's `error.type`) and a message
 * written to be safe to export (no config content). Use it in stages to explain a rejection.
 */
export class ReloadError extends Error {
  readonly code: string;
  readonly stage: ReloadStage | undefined;

  constructor(code: string, message: string, options: { cause?: unknown; stage?: ReloadStage } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (typeof code !== 'string' || !CODE_PATTERN.test(code)) {
      throw new TypeError(`ReloadError code must be snake_case of at most 64 characters, got ${describeValue(code)}`);
    }
    if (options.stage !== undefined && !(STAGES as readonly unknown[]).includes(options.stage)) {
      throw new TypeError(`ReloadError options.stage must be one of ${STAGES.join(', ')}, got ${describeValue(options.stage)}`);
    }
    this.name = 'ReloadError';
    this.code = code;
    this.stage = options.stage;
    markGenuine(this);
  }
}

/** Thrown into a stage's await when the run's deadline passes. */
export class ReloadTimeoutError extends ReloadError {
  constructor(stage: ReloadStage, timeoutMs: number) {
    super('timeout', `reload deadline of ${timeoutMs} ms passed during ${stage}`, { stage });
    this.name = 'ReloadTimeoutError';
  }
}

/**
 * Whether `err` was built by a ReloadError constructor — of this or any other copy of
 * @reloadscope/core in the process. An object that only looks like one (`name: 'ReloadError'`
 * and a `code`) is not: its code could be any text.
 */
export function isReloadError(err: unknown): err is ReloadError {
  return isGenuine(err);
}

/**
 * error.type for any thrown value: a genuine ReloadError's code, else an Error's class name
 * (`TypeError`, `SyntaxError`…), else `_OTHER`. Never throws, whatever `err` is.
 */
export function errorType(err: unknown): string {
  return inspectThrown(err).type;
}
