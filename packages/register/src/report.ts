/**
 * reloadscope's own operational messages (port taken, Collector unreachable, SDK reused): written
 * once each, to stderr, prefixed, so an operator sees them without enabling OTel diag logging and
 * is not flooded when the condition persists. OTEL_LOG_LEVEL=none silences them.
 */
const said = new Set<string>();
let silenced = false;

export function silenceReports(on: boolean): void {
  silenced = on;
}

export function reportOnce(key: string, message: string): boolean {
  if (said.has(key)) return false;
  said.add(key);
  if (!silenced) {
    try {
      process.stderr.write(`[reloadscope] ${message}\n`);
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
