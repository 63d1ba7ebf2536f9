import { diag } from '@opentelemetry/api';

const said = new Set<string>();

/**
 * Say something through OTel `diag` at most once per process. Probes degrade instead of failing,
 * and a degradation repeated on every reload would drown the log it is meant to inform.
 */
export function diagOnce(key: string, level: 'warn' | 'info' | 'debug', message: string): void {
  if (said.has(key)) return;
  said.add(key);
  diag[level](`@reloadscope/node: ${message}`);
}
