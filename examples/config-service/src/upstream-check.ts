/**
 * Resolve when `url` answers 2xx, reject otherwise. No timeout of its own on purpose: the reload's
 * deadline bounds it, and `signal` (aborted when the candidate config is rolled back) releases
 * the request, so an upstream that never answers turns into a `timeout` outcome, not a hang.
 */
export async function checkUpstream(url: string, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, { signal });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`upstream answered HTTP ${res.status}`);
}
