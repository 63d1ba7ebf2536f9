import { diagOnce } from './diagnostics.ts';

export type ResourceCounts = ReadonlyMap<string, number>;

/** The raw list of `process.getActiveResourcesInfo()`: one type name per active handle/request. */
export type ResourceSnapshot = readonly string[];

type ResourcesInfo = () => string[];

const resourcesInfo: ResourcesInfo | undefined = (() => {
  const fn = (process as { getActiveResourcesInfo?: unknown }).getActiveResourcesInfo;
  return typeof fn === 'function' ? (fn.bind(process) as ResourcesInfo) : undefined;
})();

/**
 * Active handles and requests that keep the event loop alive, as Node lists them (`Timeout`,
 * `TCPServerWrap`, `FSReqCallback`…). O(handles): a server with 400 keep-alive clients lists 800
 * entries, so the list is kept raw here and only counted when a delta is actually needed.
 * Unref'ed timers are not listed by Node, which is why the probes' own timers are unref'ed.
 * Undefined when the runtime lacks the API.
 */
export function snapshotActiveResources(): ResourceSnapshot | undefined {
  if (!resourcesInfo) {
    diagOnce('resources-api', 'warn', 'process.getActiveResourcesInfo() is unavailable; hotreload.resources.delta is not reported');
    return undefined;
  }
  return resourcesInfo();
}

/**
 * Adds `sign` × the count of each type in `snapshot` to `into`. Node lists handles of one kind
 * next to each other, and the strings it returns are fresh (not interned), so hashing each one
 * into the Map costs more than the API call itself; counting runs of equal neighbours first
 * touches the Map once per run instead of once per handle.
 */
function accumulate(into: Map<string, number>, snapshot: ResourceSnapshot, sign: 1 | 0 | -1): void {
  let current: string | undefined;
  let run = 0;
  for (let i = 0; i < snapshot.length; i++) {
    const type = snapshot[i]!;
    if (type === current) {
      run++;
      continue;
    }
    if (current !== undefined) into.set(current, (into.get(current) ?? 0) + sign * run);
    current = type;
    run = 1;
  }
  if (current !== undefined) into.set(current, (into.get(current) ?? 0) + sign * run);
}

/** Active handles and requests counted by type. Undefined when the runtime lacks the API. */
export function countActiveResources(): ResourceCounts | undefined {
  const snapshot = snapshotActiveResources();
  if (!snapshot) return undefined;
  const counts = new Map<string, number>();
  accumulate(counts, snapshot, 1);
  return counts;
}

/**
 * after − before for every type present in either snapshot (0 included, so a fixed leak reads 0),
 * written into `into` (cleared first) when given.
 */
export function diffSnapshots(before: ResourceSnapshot, after: ResourceSnapshot, into?: Map<string, number>): Map<string, number> {
  const delta = into ?? new Map<string, number>();
  delta.clear();
  // The common case, a reload that left nothing behind: the same list, every type at 0.
  if (sameList(before, after)) {
    accumulate(delta, after, 0);
    return delta;
  }
  accumulate(delta, after, 1);
  accumulate(delta, before, -1);
  return delta;
}

/** Whether two lists name the same handles in the same order. */
export function sameList(a: ResourceSnapshot, b: ResourceSnapshot): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** after − before for every type present in either count (0 included, so a fixed leak reads 0). */
export function diffResources(before: ResourceCounts, after: ResourceCounts): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [type, n] of after) delta.set(type, n);
  for (const [type, n] of before) delta.set(type, (delta.get(type) ?? 0) - n);
  return delta;
}
