/**
 * The storm's source, in its own process so the reloader under test gets no help from sharing an
 * event loop with it. Usage (forked by storm.ts): storm-child.ts <file|signal> <config file> <count> <durationMs>
 *  - file:   <count> in-place writes of the config within <durationMs> (each a new `seq`).
 *  - signal: <count> SIGHUPs to the parent within <durationMs>; the config file is rewritten
 *            before every 100th signal and once more, with the final `seq`, before the last one.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const [mode, file, countArg, durationArg] = process.argv.slice(2);
const count = Number(countArg);
const durationMs = Number(durationArg);
if ((mode !== 'file' && mode !== 'signal') || !file || !(count > 0) || !(durationMs > 0)) {
  throw new Error('usage: storm-child.ts <file|signal> <config file> <count> <durationMs>');
}
const parent = process.ppid;
const pad = 'x'.repeat(512);
// Fixed-width content rewritten in place through one descriptor: one pwrite per change, so the
// storm's rate is not bounded by open/close on a loaded machine. JSON allows the padding spaces.
// Every write is longer than the parent's initial file, so no stale tail survives.
const fd = openSync(file, 'r+');
process.on('exit', () => closeSync(fd));
function render(seq: number): string {
  return `{"seq":${String(seq).padStart(8, ' ')},"pad":"${pad}"}`;
}
const write = (seq: number) => writeSync(fd, render(seq), 0, 'utf8');

async function main(): Promise<void> {
  const ticks = 100;
  const perTick = Math.ceil(count / ticks);
  const startedAt = Date.now();
  let sent = 0;
  let lastSeq = -1;
  for (let tick = 0; tick < ticks && sent < count; tick++) {
    for (let k = 0; k < perTick && sent < count; k++, sent++) {
      const last = sent === count - 1;
      if (mode === 'file') {
        write(sent);
        lastSeq = sent;
      } else {
        if (sent % 100 === 0 || last) {
          write(sent);
          lastSeq = sent;
        }
        process.kill(parent, 'SIGHUP');
      }
    }
    const next = startedAt + ((tick + 1) * durationMs) / ticks;
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
  }
  const endedAt = Date.now();
  process.send?.({ sent, lastSeq, startedAt, endedAt }, () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
