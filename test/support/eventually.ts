/**
 * Poll until `check` gives a value, for conditions that become true "eventually" (a child process
 * starting, a file event arriving). `undefined`, `null` and `false` mean "not yet"; a throw is
 * retried and reported if the deadline passes. Generous deadlines: a loaded 2-core CI machine is
 * slow, and no test makes a timing claim with this.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 20_000,
): Promise<Exclude<T, undefined | null | false>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== null && v !== false) return v as Exclude<T, undefined | null | false>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
