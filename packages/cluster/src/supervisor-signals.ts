/**
 * What every signal does to `reloadscope-cluster`: the README's signal table, and the SIGNALS
 * section of `--help`, which is printed from `SUPERVISOR_SIGNALS` below. No signal other than a
 * stop request (or SIGKILL, which nothing can catch) ends the supervisor or its workers.
 */

export interface SignalActions {
  /** Drain every worker and exit 0; called once, a repeated stop signal is only reported. */
  stop(signal: NodeJS.Signals): void;
  /** Send the signal to every current worker; how many got it. */
  passOn(signal: NodeJS.Signals): number;
  /** One line for the operator. */
  say(line: string): void;
}

/** Signal → meaning, in the order --help lists them. */
export const SUPERVISOR_SIGNALS: ReadonlyArray<readonly [string, string]> = [
  ['SIGUSR2', 'upgrade to what --release points at now (signals during an upgrade coalesce into one more)'],
  ['SIGHUP', 'passed on to every current worker (an app\'s own config reload); ends nothing'],
  ['SIGTERM, SIGINT, SIGQUIT', 'stop: drain every worker (killed at --drain-timeout), flush telemetry, exit 0; a second one changes nothing'],
  ['SIGUSR1', 'ignored and reported: no inspector is opened on a signal (start with node --inspect to debug)'],
  ['SIGTSTP', 'ignored and reported: Ctrl-Z would freeze the service'],
  ['SIGPIPE, SIGWINCH, SIGCONT', 'no effect; a closed stdout or stderr drops log lines and ends nothing'],
  ['SIGTTIN, SIGTTOU', 'Node\'s default (stop), not caught on purpose: do not run the supervisor as a background job of a terminal'],
  ['SIGKILL of a worker', 'a current worker is replaced (with backoff); a new one fails its upgrade (worker_exited); a draining one is gone'],
  ['SIGKILL, SIGSTOP of the supervisor', 'cannot be caught: the workers exit with it, or pause with it until SIGCONT'],
];

const STOP = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
const IGNORED: Readonly<Partial<Record<NodeJS.Signals, string>>> = {
  SIGUSR1: 'no inspector is opened on a signal (start the supervisor with node --inspect to debug it)',
  SIGTSTP: 'the supervisor and its workers are not suspended (that would freeze the service)',
};

/** Install the table. Nothing else in the supervisor listens for these signals. */
export function handleSupervisorSignals(actions: SignalActions): void {
  let stopping = false;
  for (const signal of STOP) {
    process.on(signal, () => {
      if (stopping) return actions.say(`${signal}: already stopping (draining the workers)`);
      stopping = true;
      actions.say(`${signal}: stopping, draining every worker`);
      actions.stop(signal);
    });
  }
  process.on('SIGHUP', () => actions.say(`SIGHUP passed on to ${actions.passOn('SIGHUP')} workers`));
  for (const [signal, why] of Object.entries(IGNORED)) process.on(signal, () => actions.say(`${signal} ignored: ${why}`));
}
