import { type Span, SpanStatusCode } from '@opentelemetry/api';
import { errorType, isReloadError } from './errors.ts';
import { ATTR_ERROR_TYPE } from './semconv.ts';
import type { ErrorMessagePolicy } from './types.ts';

/**
 * The message of an error as it may be exported. Config parsers quote their input in messages
 * (V8: `Unexpected token 'p', "password: …" is not valid JSON`), so by default only ReloadError
 * messages — written by reloadscope or the user to be content-free — leave the process.
 */
export function exportableMessage(err: unknown, policy: ErrorMessagePolicy): string | undefined {
  if (policy === 'none') return undefined;
  if (policy === 'safe' && !isReloadError(err)) return undefined;
  if (err instanceof Error) return err.message;
  return undefined;
}

/** Stack frames only: the first line of `stack` repeats the message. */
function framesOnly(err: unknown): string | undefined {
  if (!(err instanceof Error) || typeof err.stack !== 'string') return undefined;
  const frames = err.stack.split('\n').filter((l) => l.startsWith('    at '));
  return frames.length > 0 ? frames.join('\n') : undefined;
}

/** Record an exception event, error.type and ERROR status without leaking config content. */
export function recordError(span: Span, err: unknown, policy: ErrorMessagePolicy, type = errorType(err)): void {
  const message = exportableMessage(err, policy);
  const stack = framesOnly(err);
  span.addEvent('exception', {
    'exception.type': type,
    ...(message === undefined ? {} : { 'exception.message': message }),
    ...(stack === undefined ? {} : { 'exception.stacktrace': stack }),
  });
  span.setAttribute(ATTR_ERROR_TYPE, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? type });
}
