import type { ReloadInstrumentation, ReloadResult } from '@reloadscope/core';

const ms = (n: number) => `${n < 10 ? n.toFixed(1) : Math.round(n)}ms`;

/**
 * One line per reload, for the humans watching the terminal; the same facts go to metrics and
 * traces. Only names, durations, hashes and error codes: never config values.
 *   reload app-config: success (file) in 3.1ms · load 1.2ms, verify 0.4ms, switch 0.1ms, unload 0.0ms · hash 3f2a9c1b07de · gen 2
 */
export function formatReload(r: ReloadResult): string {
  const stages = r.stages.map((s) => `${s.stage} ${ms(s.durationMs)}${s.outcome === 'success' ? '' : ` ✗${s.outcome}`}`);
  const parts = [`reload ${r.target}: ${r.outcome} (${r.trigger}) in ${ms(r.durationMs)}`, stages.join(', ') || 'no stages'];
  if (r.error) parts.push(`${r.error.code}: ${r.error.message}`);
  // After a rejected reload this is the version that keeps serving, not the rejected candidate.
  parts.push(`hash ${r.hash ? r.hash.slice(0, 12) : '-'}`, `gen ${r.generation}`);
  return parts.join(' · ');
}

/** Print every reload of `reloads` through `print`; returns the function that stops it. */
export function logReloads(reloads: ReloadInstrumentation, print: (line: string) => void = console.log): () => void {
  return reloads.addObserver({ runEnded: (_run, result) => print(formatReload(result)) });
}
