import { basename } from 'node:path';
import type { ReloadInstrumentation } from '@reloadscope/core';
import type { ActivateBundleOptions } from './bundle.ts';
import { Options } from './options.ts';

export const DEFAULT_KEEP = 3;

/** `activateBundle()`'s options, checked; `keep` defaulted (NaN used to prune every release but two), `target` too. */
export function checkActivateOptions(options: ActivateBundleOptions): ActivateBundleOptions & { keep: number; target: string } {
  const o = Options.of('activateBundle', options);
  const root = o.required('root', o.string('root'), 'a non-empty string');
  o.withMethods<ReloadInstrumentation>('instrumentation', ['reload', 'admitTarget']);
  const target = o.string('target') ?? basename(root);
  o.string('trigger', { maxLength: 64 });
  o.duration('timeoutMs');
  o.integer('maxFileBytes', 1);
  o.function('onDiagnostic');
  o.withMethods('meterProvider', ['getMeter']);
  return { ...options, keep: o.integer('keep', 1) ?? DEFAULT_KEEP, target };
}
