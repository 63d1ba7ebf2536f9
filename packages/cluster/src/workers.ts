import type { Worker } from 'node:cluster';
import { request } from 'node:http';
import { ClusterError } from './errors.ts';
import { type FromWorker, MESSAGE_KEY, messageOf } from './protocol.ts';

export type WorkerState = 'starting' | 'current' | 'old';

export interface ReadyOptions {
  readyTimeoutMs: number;
  stabilizeMs: number;
  health: string | undefined;
  signal?: AbortSignal;
}

const HEALTH_TIMEOUT_MS = 5000;
/** How long a draining worker gets to acknowledge before it is disconnected anyway. */
const DRAIN_ACK_MS = 1000;

/**
 * One worker process as the supervisor sees it: what it reported over IPC and how it ended.
 * Listens from fork on, so no event is missed between fork and the verify stage.
 */
export class WorkerHandle {
  readonly worker: Worker;
  readonly generation: number;
  /** Position in its generation (0…workers-1), kept by a replacement: the stable metrics label. */
  readonly slot: number;
  state: WorkerState;
  /** The worker's own Prometheus endpoint, when it runs worker telemetry. */
  metricsUrl: string | undefined;
  /** Set once the supervisor itself asked this worker to go: its exit is not a crash. */
  leaving = false;
  #listening = false;
  #deferred = false;
  #readyMessage = false;
  #healthPort: number | undefined;
  #exit: { code: number | null; signal: string | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  #changed: Array<() => void> = [];
  #drainAck: (() => void) | undefined;

  constructor(worker: Worker, generation: number, slot: number, state: WorkerState) {
    this.worker = worker;
    this.generation = generation;
    this.slot = slot;
    this.state = state;
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
        this.#notify();
      });
    });
    worker.once('listening', () => {
      this.#listening = true;
      this.#notify();
    });
    worker.on('message', (message: FromWorker) => {
      switch (messageOf(message)) {
        case 'defer-ready':
          this.#deferred = true;
          break;
        case 'ready':
          this.#readyMessage = true;
          break;
        case 'health-port':
          this.#healthPort = Number((message as { port: unknown }).port);
          break;
        case 'metrics-url': {
          const url = (message as { url: unknown }).url;
          // Only a loopback http URL: the primary fetches it on every scrape.
          if (typeof url === 'string' && /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost):\d+\//.test(url)) this.metricsUrl = url;
          break;
        }
        case 'draining':
          this.#drainAck?.();
          break;
        default:
          return;
      }
      this.#notify();
    });
    // An IPC error (the worker died mid-send) must not become an unhandled 'error' in the primary.
    worker.on('error', () => {});
  }

  get alive(): boolean {
    return this.#exit === undefined;
  }

  #notify(): void {
    const waiting = this.#changed;
    this.#changed = [];
    for (const fn of waiting) fn();
  }

  #nextChange(): Promise<void> {
    return new Promise((resolve) => this.#changed.push(resolve));
  }

  /**
   * Ready: listening, `ready()` called if it deferred readiness, the health path answered 2xx, and
   * still alive after the stabilization window. Rejects with a ClusterError otherwise.
   */
  async whenReady(options: ReadyOptions): Promise<void> {
    const deadline = Date.now() + options.readyTimeoutMs;
    const timeout = () => new ClusterError('ready_timeout', `worker ${this.worker.id} was not ready within ${options.readyTimeoutMs} ms`, { stage: 'verify' });
    const exited = () => new ClusterError('worker_exited', `worker ${this.worker.id} exited (${this.#exitText()}) before it was ready`, { stage: 'verify' });
    const needsPort = options.health !== undefined;
    while (!(this.#listening && (!this.#deferred || this.#readyMessage) && (!needsPort || this.#healthPort !== undefined))) {
      if (!this.alive) throw exited();
      const left = deadline - Date.now();
      if (left <= 0 || options.signal?.aborted) throw timeout();
      await raceTimer(this.#nextChange(), left, options.signal);
    }
    if (options.health !== undefined) {
      const status = await healthStatus(this.#healthPort!, options.health, Math.min(HEALTH_TIMEOUT_MS, Math.max(1, deadline - Date.now())));
      if (!this.alive) throw exited();
      if (status === undefined || status < 200 || status > 299) {
        throw new ClusterError('health_failed', `worker ${this.worker.id} answered the health check with ${status ?? 'no response'}`, { stage: 'verify' });
      }
    }
    // A worker that dies right after listening (a crash in its first timer tick) is refused here.
    const end = Date.now() + options.stabilizeMs;
    while (this.alive && Date.now() < end) await raceTimer(this.#nextChange(), end - Date.now(), options.signal);
    if (!this.alive) {
      throw new ClusterError('worker_exited', `worker ${this.worker.id} exited (${this.#exitText()}) within the stabilization window`, { stage: 'verify' });
    }
  }

  #exitText(): string {
    const e = this.#exit;
    return e ? (e.signal ? `signal ${e.signal}` : `code ${e.code}`) : 'running';
  }

  /**
   * Drain: stop taking connections, finish in-flight requests, close keep-alive clients politely,
   * exit. Killed at `timeoutMs`. Resolves with whether it had to be killed.
   */
  async drain(timeoutMs: number, idleCloseMs: number): Promise<{ killed: boolean; seconds: number }> {
    const started = performance.now();
    this.state = 'old';
    this.leaving = true;
    if (this.alive) {
      const acked = new Promise<void>((resolve) => {
        this.#drainAck = resolve;
      });
      try {
        this.worker.send({ [MESSAGE_KEY]: 'drain', idleCloseMs });
      } catch {
        // The channel is already closed: the disconnect below or the kill ends it.
      }
      await raceTimer(Promise.race([acked, this.exited]), DRAIN_ACK_MS);
      // The disconnect handshake: whatever connection the primary handed over before this point
      // is processed by the worker (served, or handed back) before its channel closes.
      if (this.alive && this.worker.isConnected()) this.worker.disconnect();
    }
    let killed = false;
    const left = timeoutMs - (performance.now() - started);
    if (this.alive && (await raceTimer(this.exited.then(() => true), Math.max(0, left))) !== true && this.alive) {
      killed = true;
      this.kill();
    }
    await this.exited;
    return { killed, seconds: (performance.now() - started) / 1000 };
  }

  /** SIGKILL: for a generation that failed verify, or a drain past its timeout. */
  kill(): void {
    this.leaving = true;
    if (!this.alive) return;
    try {
      this.worker.process.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** `promise`'s value, or undefined after `ms` (or on abort); the timer never outlives the race. */
export async function raceTimer<T>(promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
        if (signal) {
          onAbort = () => resolve(undefined);
          signal.addEventListener('abort', onAbort, { once: true });
        }
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (signal && onAbort) signal.removeEventListener('abort', onAbort);
  }
}

function healthStatus(port: number, path: string, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
