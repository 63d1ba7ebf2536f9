/**
 * Wait for `work` at most `ms`. Resolves true when the work settled in time, false when the limit
 * passed first; never rejects. The limit timer is unref'ed unless `hold` is set: it bounds the
 * wait but does not by itself keep a finished process alive. (`hold` is for the signal path,
 * which must still re-raise the signal when the limit passes.)
 */
export function settleWithin(work: Promise<unknown>, ms: number, hold = false): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<boolean>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms), false);
    if (!hold) timer.unref();
  });
  const done = work.then(
    () => true,
    () => true,
  );
  return Promise.race([done, limit]).finally(() => clearTimeout(timer));
}
