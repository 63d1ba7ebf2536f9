import type { ReloadInstrumentation } from './instrumentation.ts';
import type { ReloadResult } from './types.ts';

const ms = (n: number) => `${n < 10 ? n.toFixed(1) : Math.round(n)}ms`;

/**
 * One line per reload, for the humans watching a terminal or a journal; the same facts go to
 * metrics and traces. Only names, durations, versions, hashes and error codes: never config values.
 *   reload app-config: success (file) in 3.1ms · load 1.2ms, verify 0.4ms, switch 0.1ms, unload 0.0ms · hash 3f2a9c1b07de · gen 2
 *   reload app-code: failure (signal) in 4012ms · load 21ms, verify 3991ms ✗failure · ready_timeout: … · candidate r7 · version r6 · hash 9e1c0b7d2a44 · gen 3
 */
export function formatReload(r: ReloadResult): string {
  const stages = r.stages.map((s) => `${s.stage} ${ms(s.durationMs)}${s.outcome === 'success' ? '' : ` ✗${s.outcome}`}`);
  const parts = [`reload ${r.target}: ${r.outcome} (${r.trigger}) in ${ms(r.durationMs)}`, stages.join(', ') || 'no stages'];
  if (r.error) parts.push(`${r.error.code}: ${r.error.message}`);
  // A refused candidate is named, so the line says what did not happen, not only what still runs.
  const refused = r.outcome !== 'success' && r.outcome !== 'unchanged';
  if (refused && r.candidateHash !== undefined) parts.push(`candidate ${r.candidateVersion ?? r.candidateHash.slice(0, 12)}`);
  // After a refused reload these describe the version that keeps serving, not the candidate.
  if (r.version !== undefined) parts.push(`version ${r.version}`);
  parts.push(`hash ${r.hash ? r.hash.slice(0, 12) : '-'}`, `gen ${r.generation}`);
  return parts.join(' · ');
}

/** Print every reload of `reloads` through `print`; returns the function that stops it. */
export function logReloads(reloads: ReloadInstrumentation, print: (line: string) => void = console.log): () => void {
  return reloads.addObserver({ runEnded: (_run, result) => print(formatReload(result)) });
}
