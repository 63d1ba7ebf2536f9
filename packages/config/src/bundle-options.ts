import { basename } from 'node:path';
import { MAX_TARGET_CHARS, type ReloadInstrumentation } from '@reloadscope/core';
import type { ActivateBundleOptions } from './bundle.ts';
import { Options } from './options.ts';

export const DEFAULT_KEEP = 3;

/**
 * `activateBundle()`'s options, checked; `keep` defaulted (NaN used to prune every release but two)
 * and `target` too, so that core never refuses it later, after the call has returned its promise.
 */
export function checkActivateOptions(options: ActivateBundleOptions): ActivateBundleOptions & { keep: number; target: string } {
  const o = Options.of('activateBundle', options);
  const root = o.required('root', o.string('root'), 'a non-empty string');
  o.withMethods<ReloadInstrumentation>('instrumentation', ['reload']);
  const target = o.string('target', { maxLength: MAX_TARGET_CHARS }) ?? basename(root);
  if (target.length === 0 || target.length > MAX_TARGET_CHARS) {
    throw new TypeError(`activateBundle: options.root's base name (the default target) is empty or longer than ${MAX_TARGET_CHARS} characters; pass options.target`);
  }
  o.string('trigger', { maxLength: 64 });
  o.duration('timeoutMs');
  o.integer('maxFileBytes', 1);
  o.function('onDiagnostic');
  o.withMethods('meterProvider', ['getMeter']);
  return { ...options, keep: o.integer('keep', 1) ?? DEFAULT_KEEP, target };
}
