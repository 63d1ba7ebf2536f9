import { getHeapStatistics } from 'node:v8';
import { diagOnce } from './diagnostics.ts';

type GcFunction = () => void;

/** Environment switch for exact heap mode, for processes set up by @reloadscope/register. */
export const EXACT_HEAP_ENV = 'RELOADSCOPE_EXACT_HEAP';

/** `gc` exists only when the process was started with --expose-gc; reloadscope never exposes it. */
export function exposedGc(): GcFunction | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as GcFunction) : undefined;
}

/**
 * Whether heap readings follow a full GC. Only on request (`exactHeap: true`, or
 * RELOADSCOPE_EXACT_HEAP=true when the option is not given), never merely because `gc` happens
 * to be exposed: two full GCs per reload cost milliseconds each, hundreds of times the rest of
 * the instrumentation. Asked for without --expose-gc, it degrades to plain readings with a
 * one-time warning.
 */
export function exactHeapWanted(option: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  let wanted = option;
  if (wanted === undefined) {
    const raw = env[EXACT_HEAP_ENV]?.trim().toLowerCase();
    if (raw === 'true') wanted = true;
    else if (raw !== undefined && raw !== '' && raw !== 'false') {
      diagOnce('exact-heap-env', 'warn', `${EXACT_HEAP_ENV}=${JSON.stringify(env[EXACT_HEAP_ENV])} is not true or false; exact heap mode stays off`);
    }
  }
  if (!wanted) return false;
  if (!exposedGc()) {
    diagOnce('exact-heap-no-gc', 'warn', 'exact heap mode needs node --expose-gc; heap deltas include garbage not yet collected');
    return false;
  }
  return true;
}

/**
 * Bytes of V8 heap in use; after a full GC in exact mode, so the number reflects what is retained
 * rather than garbage not yet collected. getHeapStatistics() is cheap (no RSS walk, unlike
 * process.memoryUsage()).
 */
export function heapUsedBytes(collectFirst: boolean): number {
  if (collectFirst) exposedGc()?.();
  return getHeapStatistics().used_heap_size;
}
