/**
 * Slow-loris checks for the HTTP listeners reloadscope opens, with real sockets over time: a crowd
 * of connections that never send a byte (re-opened as soon as the server closes one, as an
 * attacker would) must neither keep real requests out nor live past the stated header limit.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { trickle } from './raw-http.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `count` connections that send nothing. Each one the server closes is recorded (how long it
 * lived) and, with `reopen`, replaced after 10 ms.
 */
export function silentCrowd(port: number, count: number, { reopen = true } = {}) {
  const lifetimes: number[] = [];
  const open = new Map<Socket, number>();
  let stopped = false;
  const connectOne = () => {
    if (stopped) return;
    const started = Date.now();
    const socket = connect({ port, host: '127.0.0.1' });
    open.set(socket, started);
    socket.on('error', () => {});
    // Reading (and dropping) what arrives: a paused socket would never notice the server's close.
    socket.resume();
    socket.on('close', () => {
      open.delete(socket);
      if (stopped) return;
      lifetimes.push(Date.now() - started);
      if (reopen) setTimeout(connectOne, 10);
    });
  };
  for (let i = 0; i < count; i++) connectOne();
  return {
    lifetimes,
    get open() {
      return open.size;
    },
    /** Closes what is still open; returns how long each of those had been open. */
    stop(): number[] {
      stopped = true;
      const now = Date.now();
      const ages = [...open.values()].map((started) => now - started);
      for (const socket of open.keys()) socket.destroy();
      return ages;
    },
  };
}

export interface SlowLorisCheck {
  port: number;
  /** The listener's connection cap: the crowd fills it. */
  maxConnections: number;
  /** The stated limit for a connection's request headers. */
  headersTimeoutMs: number;
  /** One real request (a scrape, an authorised POST); resolves with its HTTP status, undefined when it got none. */
  request: () => Promise<number | undefined>;
  /** How long to keep requesting under the crowd; default a little past the header limit. */
  forMs?: number;
}

/**
 * Two phases. (1) A crowd as large as the cap, re-opening whatever is closed: a real request every
 * 250 ms, past the header limit, must each be answered. (2) Fewer silent connections than the cap,
 * plus one that trickles header lines: with nothing else going on, each is closed by the server at
 * the stated limit (not before it, and not a checking interval after it).
 */
export async function assertSurvivesSlowLoris(check: SlowLorisCheck): Promise<void> {
  const { port, maxConnections, headersTimeoutMs, request } = check;
  const crowd = silentCrowd(port, maxConnections);
  const outcomes: Array<{ at: number; status: number | undefined }> = [];
  let stillOpen: number[] = [];
  try {
    await sleep(300); // the crowd is accepted and holds every slot
    const started = Date.now();
    const until = started + (check.forMs ?? headersTimeoutMs + 1500);
    while (Date.now() < until) {
      const at = Date.now() - started;
      outcomes.push({ at, status: await request() });
      await sleep(250);
    }
  } finally {
    stillOpen = crowd.stop();
  }
  const failed = outcomes.filter((o) => o.status === undefined || o.status >= 500);
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${outcomes.length} real requests failed under ${maxConnections} silent connections`);
  assert.ok(outcomes.length >= 10, `${outcomes.length} requests`);
  const overLimit = [...crowd.lifetimes, ...stillOpen].filter((ms) => ms > headersTimeoutMs + 1500);
  assert.deepEqual(overLimit, [], 'no silent connection outlives the header limit');

  const quiet = silentCrowd(port, Math.min(4, maxConnections - 1), { reopen: false });
  const slow = trickle(port, { everyMs: 500, giveUpMs: headersTimeoutMs + 5000 });
  const giveUp = Date.now() + headersTimeoutMs + 5000;
  while (quiet.lifetimes.length < Math.min(4, maxConnections - 1) && Date.now() < giveUp) await sleep(100);
  quiet.stop();
  const trickled = await slow;
  const lived = [...quiet.lifetimes, trickled.closedAfterMs ?? Number.POSITIVE_INFINITY];
  assert.equal(lived.length, Math.min(4, maxConnections - 1) + 1, `the server closed ${quiet.lifetimes.length} of the silent connections`);
  for (const ms of lived) {
    // A timer never fires early; the upper slack is for a loaded machine, far below Node's 30 s check.
    assert.ok(ms >= headersTimeoutMs - 100 && ms <= headersTimeoutMs + 1500, `a silent connection lived ${ms} ms; the limit is ${headersTimeoutMs} ms`);
  }
  assert.match(trickled.data.toString('latin1'), /^HTTP\/1\.1 408 /, 'a request that never finished its headers is told 408');
}
