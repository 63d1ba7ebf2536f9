import type { ReloadStage } from './semconv.ts';

const CODE = /^[a-z][a-z0-9_]*$/;

/**
 * An error that is a value: a stable `code` (becomes the span's `error.type`) and a message
 * written to be safe to export (no config content). Use it in stages to explain a rejection.
 */
export class ReloadError extends Error {
  readonly code: string;
  readonly stage: ReloadStage | undefined;

  constructor(code: string, message: string, options: { cause?: unknown; stage?: ReloadStage } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (!CODE.test(code)) throw new TypeError(`ReloadError code must be snake_case, got ${JSON.stringify(code)}`);
    this.name = 'ReloadError';
    this.code = code;
    this.stage = options.stage;
  }
}

/** Thrown into a stage's await when the run's deadline passes. */
export class ReloadTimeoutError extends ReloadError {
  constructor(stage: ReloadStage, timeoutMs: number) {
    super('timeout', `reload deadline of ${timeoutMs} ms passed during ${stage}`, { stage });
    this.name = 'ReloadTimeoutError';
  }
}

export function isReloadError(err: unknown): err is ReloadError {
  return err instanceof ReloadError || (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'ReloadError' && typeof (err as { code?: unknown }).code === 'string');
}

/**
 * error.type for any thrown value: a ReloadError's code, else the error class name
 * (`TypeError`, `SyntaxError`…), which is safe and low-cardinality.
 */
export function errorType(err: unknown): string {
  if (isReloadError(err)) return err.code;
  if (err instanceof Error) return err.name || 'Error';
  return '_OTHER';
}
