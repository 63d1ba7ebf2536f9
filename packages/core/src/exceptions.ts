import { type Span, SpanStatusCode } from '@opentelemetry/api';
import { redactSecrets } from './redact.ts';
import { ATTR_ERROR_TYPE } from './semconv.ts';
import { inspectThrown } from './thrown.ts';
import type { ErrorMessagePolicy } from './types.ts';

/**
 * The message of an error as it may be exported. Config parsers quote their input in messages
 * (V8: `Unexpected token 'p', "password: …" is not valid JSON`), so by default only ReloadError
 * messages — written by reloadscope or the user to be content-free — leave the process. Even those
 * may name an endpoint (`${url} did not answer`): a URL leaves without its credentials (redact.ts).
 */
export function exportableMessage(err: unknown, policy: ErrorMessagePolicy): string | undefined {
  if (policy === 'none') return undefined;
  const info = inspectThrown(err);
  if (policy === 'safe' && !info.reloadError) return undefined;
  return info.message === undefined ? undefined : redactSecrets(info.message);
}

/** Record an exception event, error.type and ERROR status without leaking config content. */
export function recordError(span: Span, err: unknown, policy: ErrorMessagePolicy, type = inspectThrown(err).type): void {
  const message = exportableMessage(err, policy);
  const frames = inspectThrown(err).frames;
  const stack = frames === undefined ? undefined : redactSecrets(frames);
  span.addEvent('exception', {
    'exception.type': type,
    ...(message === undefined ? {} : { 'exception.message': message }),
    ...(stack === undefined ? {} : { 'exception.stacktrace': stack }),
  });
  span.setAttribute(ATTR_ERROR_TYPE, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? type });
}
