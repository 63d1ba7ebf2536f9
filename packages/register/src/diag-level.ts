import { DiagLogLevel } from '@opentelemetry/api';
import type { LogLevelName } from './env.ts';

/** OTEL_LOG_LEVEL name → the API's DiagLogLevel. */
export function diagLevel(level: LogLevelName): DiagLogLevel {
  switch (level) {
    case 'error':
      return DiagLogLevel.ERROR;
    case 'warn':
      return DiagLogLevel.WARN;
    case 'info':
      return DiagLogLevel.INFO;
    case 'debug':
      return DiagLogLevel.DEBUG;
    case 'verbose':
      return DiagLogLevel.VERBOSE;
    case 'all':
      return DiagLogLevel.ALL;
    default:
      return DiagLogLevel.NONE;
  }
}
