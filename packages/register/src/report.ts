import { redactSecrets } from '@reloadscope/core';

/**
 * reloadscope's own operational messages (port taken, Collector unreachable, SDK reused): written
 * once each, to stderr, prefixed, so an operator sees them without enabling OTel diag logging and
 * is not flooded when the condition persists. OTEL_LOG_LEVEL=none silences them. Every line is
 * printable() first: no URL userinfo, query value or credential from the environment is written.
 */
const said = new Set<string>();
let silenced = false;
let credentials: readonly string[] = [];

export function silenceReports(on: boolean): void {
  silenced = on;
}

/** The secrets (credentials.ts) that no line may show; replaces the previous set. */
export function withholdCredentials(secrets: readonly string[]): void {
  credentials = secrets;
}

/** `text` as register may write it: core's redaction with the credentials of the environment. */
export function printable(text: string): string {
  return redactSecrets(text, credentials);
}

export function reportOnce(key: string, message: string): boolean {
  if (said.has(key)) return false;
  said.add(key);
  if (!silenced) {
    try {
      process.stderr.write(`[reloadscope] ${printable(message)}\n`);
    } catch {
      // stderr closed: nothing sensible left to do, and telemetry must never crash the app
    }
  }
  return true;
}

/** Forget that a condition was reported, so that it is reported again if it recurs. */
export function clearReport(key: string): void {
  said.delete(key);
}
