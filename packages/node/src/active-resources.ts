import { diagOnce } from './diagnostics.ts';

export type ResourceCounts = ReadonlyMap<string, number>;

type ResourcesInfo = () => string[];

function resourcesInfoFn(): ResourcesInfo | undefined {
  const fn = (process as { getActiveResourcesInfo?: unknown }).getActiveResourcesInfo;
  return typeof fn === 'function' ? (fn.bind(process) as ResourcesInfo) : undefined;
}

/**
 * Active handles and requests that keep the event loop alive, counted by type (`Timeout`,
 * `TCPServerWrap`, `FSReqCallback`…). Unref'ed timers are not listed by Node, which is why the
 * probes' own timers are unref'ed. Undefined when the runtime lacks the API.
 */
export function countActiveResources(): ResourceCounts | undefined {
  const info = resourcesInfoFn();
  if (!info) {
    diagOnce('resources-api', 'warn', 'process.getActiveResourcesInfo() is unavailable; hotreload.resources.delta is not reported');
    return undefined;
  }
  const counts = new Map<string, number>();
  for (const type of info()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** after − before for every type present in either snapshot (0 included, so a fixed leak reads 0). */
export function diffResources(before: ResourceCounts, after: ResourceCounts): Map<string, number> {
  const delta = new Map<string, number>();
  for (const type of new Set([...before.keys(), ...after.keys()])) {
    delta.set(type, (after.get(type) ?? 0) - (before.get(type) ?? 0));
  }
  return delta;
}
