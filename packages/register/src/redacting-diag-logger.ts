import { format } from 'node:util';
import { DiagConsoleLogger, type DiagLogger } from '@opentelemetry/api';
import { printable } from './report.ts';

const LEVELS = ['error', 'warn', 'info', 'debug', 'verbose'] as const;

/**
 * The console diag logger that OTEL_LOG_LEVEL turns on, with every line printable() first. The
 * upstream exporter's diag messages quote an endpoint that does not parse, an invalid header value
 * or a Collector's answer as they are; this logger is the one place they pass before the console.
 * Arguments are formatted as console.log would format them, then redacted as one string.
 */
export function redactingDiagLogger(inner: DiagLogger = new DiagConsoleLogger()): DiagLogger {
  const logger = {} as DiagLogger;
  for (const level of LEVELS) {
    logger[level] = (message: string, ...args: unknown[]) => {
      let text: string;
      try {
        text = printable(format(message, ...args));
      } catch {
        // A value whose inspection throws (a hostile Proxy) is not worth a crash of the app.
        text = printable(String(message));
      }
      inner[level](text);
    };
  }
  return logger;
}
