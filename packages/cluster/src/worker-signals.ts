/**
 * Signals a supervised worker does not die of. A terminal sends SIGHUP (hang-up), SIGINT (Ctrl-C),
 * SIGQUIT (Ctrl-\) and SIGTSTP (Ctrl-Z) to the whole foreground process group, and systemd's
 * default KillMode sends SIGTERM to every process of the service: the workers receive these at the
 * same time as the supervisor. Their default action would end (or stop) every worker at once and
 * cut every request in flight, while the supervisor's own answer to the same signal is a drain.
 * So a worker leaves when its supervisor tells it to (drain) or kills it (SIGKILL), and the app's
 * own listeners still run (an app's SIGHUP config reload keeps working). SIGUSR1 keeps Node's
 * meaning (the inspector); SIGKILL and SIGSTOP cannot be caught. SIGTTIN/SIGTTOU are left alone on
 * purpose: a background write to a terminal with a *caught* SIGTTOU is restarted after the handler
 * and raises it again, forever; only an ignored one lets the write through, which Node cannot set.
 */
export const WORKER_HELD_SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGUSR2', 'SIGTSTP'] as const;

export function holdWorkerSignals(): void {
  for (const signal of WORKER_HELD_SIGNALS) process.on(signal, held);
}

function held(): void {}
