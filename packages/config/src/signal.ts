import { isMainThread } from 'node:worker_threads';
import type { DiagnosticSink } from './diagnostics.ts';
import { ConfigError } from './errors.ts';

/** Signals that would do harm as reload triggers. */
const REFUSED: Readonly<Record<string, string>> = {
  SIGUSR1: 'SIGUSR1 is reserved by Node.js for the inspector (it starts a debugger)',
  SIGKILL: 'SIGKILL cannot be caught',
  SIGSTOP: 'SIGSTOP cannot be caught',
  SIGINT: 'SIGINT means "stop" to operators and process managers',
  SIGTERM: 'SIGTERM means "stop" to operators and process managers',
};

/** Throws a `signal_refused` ConfigError for signals that must never trigger a reload. */
export function checkReloadSignal(signal: string): NodeJS.Signals {
  const reason = REFUSED[signal];
  if (reason) throw new ConfigError('signal_refused', `${signal} cannot be a reload signal: ${reason}; use SIGHUP`);
  if (!/^SIG[A-Z0-9]+$/.test(signal)) throw new ConfigError('signal_refused', `${JSON.stringify(signal)} is not a signal name`);
  return signal as NodeJS.Signals;
}

/**
 * Listen for `signal` and return the function that stops listening. Installing a listener also
 * replaces Node's default action (SIGHUP would otherwise kill the process), so callers install it
 * before doing anything slow. Returns undefined where signals do not exist.
 */
export function onReloadSignal(signal: NodeJS.Signals, handler: () => void, report: DiagnosticSink): (() => void) | undefined {
  if (process.platform === 'win32' || !isMainThread) {
    report({
      code: 'signal_unavailable',
      message: `${signal} reloads are unavailable ${process.platform === 'win32' ? 'on Windows' : 'in worker threads'}; use config.reload() or the HTTP trigger`,
    });
    return undefined;
  }
  const listener = () => handler();
  process.on(signal, listener);
  return () => {
    process.off(signal, listener);
  };
}
