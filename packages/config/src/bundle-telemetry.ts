import { type Counter, type MeterProvider, metrics, type Span } from '@opentelemetry/api';
import { ATTR_CONFIG_VERSION, ATTR_ERROR_TYPE, ATTR_TARGET, createInstrument, METRICS, type ReloadInstrumentation } from '@reloadscope/core';
import type { DiagnosticSink } from './diagnostics.ts';

const counters = new WeakMap<MeterProvider, Counter>();

/** The prune-failure counter of a meter provider (the global one by default), created once. */
function pruneFailures(provider: MeterProvider = metrics.getMeterProvider()): Counter {
  let counter = counters.get(provider);
  if (!counter) {
    counter = createInstrument(provider.getMeter('@reloadscope/config'), METRICS.bundlePruneFailures);
    counters.set(provider, counter);
  }
  return counter;
}

/**
 * Make the target's series exist at 0, so `increase()` sees the first failure: only for a target
 * the instrumentation admits (its `maxTargets` bounds this series as it bounds core's).
 */
export function declarePruneFailures(reloads: Pick<ReloadInstrumentation, 'admitTarget'>, target: string, provider: MeterProvider | undefined): void {
  if (reloads.admitTarget(target)) pruneFailures(provider).add(0, { [ATTR_TARGET]: target });
}

export interface PruneFailure {
  /** The release directory name (a version label, safe to report). */
  name: string;
  errno: string;
}

/**
 * A release that could not be removed: counted, put on the unload span and told to the
 * diagnostics sink. Deliberately not an error of the run: the switch it follows stands.
 */
export function reportPruneFailure(failure: PruneFailure, target: string, span: Span, report: DiagnosticSink, provider: MeterProvider | undefined): void {
  pruneFailures(provider).add(1, { [ATTR_TARGET]: target });
  span.addEvent('hotreload.bundle.prune_failed', { [ATTR_ERROR_TYPE]: 'prune_failed', [ATTR_CONFIG_VERSION]: failure.name });
  report({
    code: 'prune_failed',
    message: `${target}: could not prune ${failure.name} (${failure.errno}); the switch stands, the next activation retries`,
  });
}
