/**
 * A process whose stdout or stderr reader went away (a closed terminal, a pager or `tee` that
 * ended, npm gone on SIGHUP) gets EPIPE or EIO on its next write, emitted as an 'error' event that
 * nobody handles: the process dies of its own log line. The supervisor and its workers drop such
 * output instead. A write to an open stream is unaffected.
 */
export function surviveClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (!stream.listeners('error').includes(ignore)) stream.on('error', ignore);
  }
}

function ignore(): void {}
