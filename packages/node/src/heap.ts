import { getHeapStatistics } from 'node:v8';

type GcFunction = () => void;

/** `gc` exists only when the process was started with --expose-gc; reloadscope never forces it. */
export function exposedGc(): GcFunction | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as GcFunction) : undefined;
}

/**
 * Bytes of V8 heap in use. After a full GC when `gc` is exposed, so the number reflects what is
 * retained rather than garbage not yet collected. getHeapStatistics() is cheap (no RSS walk,
 * unlike process.memoryUsage()).
 */
export function heapUsedBytes(collectFirst: boolean): number {
  if (collectFirst) exposedGc()?.();
  return getHeapStatistics().used_heap_size;
}
