/**
 * SIGTERM/SIGINT: flush pending telemetry, then keep Node's default behaviour. Listening to a
 * signal suppresses Node's default action (exit), so when nobody else listens the signal is
 * re-raised after the flush with our listener removed: the process still dies *by the signal*
 * (exit status 128+n), as it would without reloadscope. When the application listens too, it
 * owns the exit and only the flush is added. A second signal during the flush acts at once.
 */
export function flushOnSignals(flush: () => Promise<void>, timeoutMs: number): () => void {
  if (process.platform === 'win32') return () => {};
  const signals = ['SIGTERM', 'SIGINT'] as const;
  const handlers = new Map<string, () => void>();
  const removeAll = () => {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
    handlers.clear();
  };
  for (const sig of signals) {
    const handler = () => {
      const appListens = process.listenerCount(sig) > 1;
      removeAll();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      void Promise.race([flush().catch(() => {}), limit]).then(() => {
        clearTimeout(timer);
        if (!appListens) process.kill(process.pid, sig);
      });
    };
    handlers.set(sig, handler);
    process.on(sig, handler);
  }
  return removeAll;
}
