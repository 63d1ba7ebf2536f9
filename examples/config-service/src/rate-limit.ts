/**
 * A fixed one-minute window for the whole service. The limit is read on every request, so a
 * reloaded `rateLimit` applies at once without rebuilding anything.
 */
export function minuteWindow(limit: () => number): () => boolean {
  let windowStart = Date.now();
  let used = 0;
  return () => {
    const now = Date.now();
    if (now - windowStart >= 60_000) {
      windowStart = now;
      used = 0;
    }
    used += 1;
    return used <= limit();
  };
}
