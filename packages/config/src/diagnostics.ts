import { diag } from '@opentelemetry/api';

/** Things an operator should hear about that are not reload results. Never carries config values. */
export interface ConfigDiagnostic {
  code: 'subpath_mount' | 'watch_error' | 'signal_unavailable' | 'rollback_notify_failed' | 'reload_rejected' | 'prune_failed' | 'serial_state_failed';
  message: string;
}

export type DiagnosticSink = (d: ConfigDiagnostic) => void;

/** Default sink: the OpenTelemetry diag logger, which the app already routes somewhere. */
export const diagSink: DiagnosticSink = (d) => diag.warn(`@reloadscope/config ${d.code}: ${d.message}`);
