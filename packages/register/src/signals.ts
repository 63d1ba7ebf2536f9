import { settleWithin } from './settle-within.ts';

/**
 * SIGTERM/SIGINT: flush pending telemetry, then keep Node's default behaviour. Listening to a
 * signal suppresses Node's default action (exit), so when nobody else listens the signal is
 * re-raised after the flush with our listener removed: the process still dies *by the signal*
 * (exit status 128+n), as it would without reloadscope. When the application listens too, it
 * owns the exit and only the flush is added. A second signal during the flush acts at once.
 * `beginExit` starts (or joins) the process-wide shutdown limit and returns the time left.
 */
export function flushOnSignals(flush: () => Promise<void>, beginExit: () => number): () => void {
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
      // Held only when the signal is to be re-raised: then the limit must fire even on an idle loop.
      void settleWithin(flush(), beginExit(), !appListens).then(() => {
        if (!appListens) process.kill(process.pid, sig);
      });
    };
    handlers.set(sig, handler);
    process.on(sig, handler);
  }
  return removeAll;
}
