import { diag } from '@opentelemetry/api';
import type { ReloadResult } from '@reloadscope/core';

/** The codes of ConfigDiagnostic: a closed set, tabled in the README (checked by scripts/doc-facts.ts). */
export const DIAGNOSTIC_CODES = [
  'subpath_mount',
  'watch_error',
  'signal_unavailable',
  'rollback_notify_failed',
  'reload_rejected',
  'auth_throttled',
  'http_error',
  'prune_failed',
  'serial_state_failed',
] as const;

/** Things an operator should hear about that are not reload results. Never carries config values. */
export interface ConfigDiagnostic {
  code: (typeof DIAGNOSTIC_CODES)[number];
  message: string;
}

export type DiagnosticSink = (d: ConfigDiagnostic) => void;

/** Default sink: the OpenTelemetry diag logger, which the app already routes somewhere. */
export const diagSink: DiagnosticSink = (d) => diag.warn(`@reloadscope/config ${d.code}: ${d.message}`);

/**
 * The `onDiagnostic` option as every caller uses it: the default when absent, and a throw from the
 * sink goes nowhere. Diagnostics are said from inside stages (a prune or serial write after a switch
 * that stands), result handlers and event listeners: a broken sink must not roll back a switch,
 * reject a reload's promise, change an HTTP answer or end the process.
 */
export function diagnosticSink(sink: DiagnosticSink | undefined): DiagnosticSink {
  if (sink === undefined) return diagSink;
  return (d) => {
    try {
      sink(d);
    } catch {
      // nowhere left to say it
    }
  };
}

/**
 * One line for a reload that kept the old version, naming what keeps serving (never content). After
 * a rollback that itself failed, core still reports the previous hash, but what runs is unknown:
 * the line says so rather than name a version that may not be served.
 */
export function reportRejection(report: DiagnosticSink, result: ReloadResult): void {
  if (result.trigger === 'startup' || result.outcome === 'success' || result.outcome === 'unchanged') return;
  const serving =
    result.error?.code === 'rollback_failed'
      ? 'what is served now is unknown (the rollback failed)'
      : `still serving ${result.hash ? result.hash.slice(0, 12) : 'nothing'}`;
  report({
    code: 'reload_rejected',
    message: `${result.target}: ${result.trigger} reload ended with ${result.outcome} (${result.error?.code ?? 'unknown'}); ${serving}`,
  });
}
