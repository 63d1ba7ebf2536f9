import type { Worker } from 'node:cluster';
import { request } from 'node:http';
import { ClusterError } from './errors.ts';
import { type FromWorker, type ListeningMessage, MESSAGE_KEY, messageOf } from './protocol.ts';
import { describeListeners, type Listener, listenerOf, type ServiceSpec, serving } from './service-address.ts';

export type WorkerState = 'starting' | 'current' | 'old';

export interface ReadyOptions {
  /** What the worker must listen on (see service-address.ts). */
  service: ServiceSpec;
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
  /** The app's listeners, by the id the worker gave them, in the order they began listening. */
  readonly #listeners = new Map<number, Listener>();
  #deferred = false;
  #readyMessage = false;
  #exit: { code: number | null; signal: string | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  #changed: Array<() => void> = [];
  #drainAck: (() => void) | undefined;
  #servingAck: (() => void) | undefined;
  /** Its generation is verified while another one serves: no connection is handed to it. */
  #held: boolean;

  constructor(worker: Worker, generation: number, slot: number, state: WorkerState, held: boolean) {
    this.worker = worker;
    this.generation = generation;
    this.slot = slot;
    this.state = state;
    this.#held = held;
    if (held) this.#keepConnections();
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
        this.#notify();
      });
    });
    worker.on('message', (message: FromWorker) => {
      switch (messageOf(message)) {
        case 'defer-ready':
          this.#deferred = true;
          break;
        case 'ready':
          this.#readyMessage = true;
          break;
        case 'listening': {
          const parsed = listenerOf(message as Partial<ListeningMessage>);
          if (parsed) this.#listeners.set(parsed.id, parsed.listener);
          break;
        }
        case 'closed':
          this.#listeners.delete((message as { id: unknown }).id as number);
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
        case 'serving':
          this.#servingAck?.();
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

  /** The app's listeners now. */
  listeners(): Listener[] {
    return [...this.#listeners.values()];
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
   * Ready: listening on the service address (every learned address; for the first generation at
   * least one fixed one), `ready()` called if it deferred readiness, the health path answered 2xx
   * on its listener on the service address, and still alive and listening there after the
   * stabilization window. Resolves with the addresses it serves (what the first generation
   * teaches); rejects with a ClusterError otherwise.
   */
  async whenReady(options: ReadyOptions): Promise<string[]> {
    const deadline = Date.now() + options.readyTimeoutMs;
    const id = this.worker.id;
    const exited = (when: string) => new ClusterError('worker_exited', `worker ${id} exited (${this.#exitText()}) ${when}`, { stage: 'verify' });
    let required = serving(this.listeners(), options.service);
    while (!required || (this.#deferred && !this.#readyMessage)) {
      if (!this.alive) throw exited('before it was ready');
      const left = deadline - Date.now();
      if (left <= 0 || options.signal?.aborted) throw this.#notReady(options, required !== undefined);
      await raceTimer(this.#nextChange(), left, options.signal);
      required = serving(this.listeners(), options.service);
    }
    if (options.health !== undefined) {
      const [first] = required;
      if (first?.health === undefined) {
        throw new ClusterError('health_failed', `worker ${id}: its listener on ${first?.key} cannot be health-checked (not a plain HTTP server)`, { stage: 'verify' });
      }
      const status = await healthStatus(first.health, options.health, Math.min(HEALTH_TIMEOUT_MS, Math.max(1, deadline - Date.now())));
      if (!this.alive) throw exited('during its health check');
      if (status === undefined || status < 200 || status > 299) {
        throw new ClusterError('health_failed', `worker ${id} answered the health check on ${first.key} with ${status ?? 'no response'}`, { stage: 'verify' });
      }
    }
    // A worker that dies, or closes its listener, right after listening is refused here.
    const keys = required.map((l) => l.key);
    const end = Date.now() + options.stabilizeMs;
    for (;;) {
      if (!this.alive) throw exited('within the stabilization window');
      const now = this.listeners();
      const gone = keys.filter((key) => !now.some((l) => l.key === key));
      if (gone.length > 0) throw new ClusterError('stopped_listening', `worker ${id} stopped listening on ${gone.join(', ')} within the stabilization window`, { stage: 'verify' });
      if (Date.now() >= end) break;
      if (options.signal?.aborted) throw new ClusterError('ready_timeout', `the upgrade's deadline passed while worker ${id} was in its stabilization window`, { stage: 'verify' });
      await raceTimer(this.#nextChange(), end - Date.now(), options.signal);
    }
    return (serving(this.listeners(), options.service) ?? []).map((l) => l.key);
  }

  /** Why a worker was not ready by the deadline: it listened elsewhere (`wrong_address`) or not at all, or never called ready(). */
  #notReady(options: ReadyOptions, listening: boolean): ClusterError {
    const id = this.worker.id;
    const within = `within ${options.readyTimeoutMs} ms`;
    if (listening) return new ClusterError('ready_timeout', `worker ${id} did not call ready() after deferReady() ${within}`, { stage: 'verify' });
    const listeners = this.listeners();
    const spec = options.service;
    if (listeners.some((l) => !l.ephemeral)) {
      const wanted = 'addresses' in spec ? `the service address ${spec.addresses.join(', ')}` : `port ${spec.port}`;
      return new ClusterError('wrong_address', `worker ${id} did not listen on ${wanted} ${within}: ${describeListeners(listeners)}`, { stage: 'verify' });
    }
    return new ClusterError('ready_timeout', `worker ${id} was not ready ${within}: ${describeListeners(listeners)}`, { stage: 'verify' });
  }

  /**
   * While held, a connection node:cluster's round-robin hands this worker never leaves the
   * primary: the handoff is answered "refused" right here, as the worker's own hold would answer it
   * (maxConnections 0, worker-listeners.ts), and the round-robin passes the connection to the next
   * worker. Sent, it could be lost: a worker that dies before answering a handoff (a release that
   * exits right after listening) takes the connection with it, and node:cluster never offers it
   * again. This reads node:cluster's internal handoff message ({ cmd: 'NODE_CLUSTER', act: 'newconn' });
   * should that ever change, connections go to the worker again and its own hold refuses them.
   */
  #keepConnections(): void {
    const proc = this.worker.process;
    const send = proc.send;
    const handoff = (m: unknown): m is { seq: number } => {
      const message = m as Record<string, unknown> | null;
      return typeof message === 'object' && message !== null && message.cmd === 'NODE_CLUSTER' && message.act === 'newconn' && typeof message.seq === 'number';
    };
    proc.send = ((message: unknown, ...rest: unknown[]) => {
      if (!this.#held || !handoff(message)) return (send as (...a: unknown[]) => boolean).call(proc, message, ...rest);
      // A millisecond later, not at once: when no serving worker is free, the round-robin offers the
      // connection straight back, and an immediate answer would spin the primary until one is.
      setTimeout(() => proc.emit('internalMessage', { cmd: 'NODE_CLUSTER', ack: message.seq, accepted: false }), 1);
      return true;
    }) as typeof proc.send;
  }

  /** The switch: lift the hold on this worker's listeners. False when it did not confirm within `timeoutMs` (it died, or its event loop is blocked). */
  async serve(timeoutMs: number): Promise<boolean> {
    this.#held = false;
    if (!this.alive) return false;
    const acked = new Promise<boolean>((resolve) => {
      this.#servingAck = () => resolve(true);
    });
    try {
      this.worker.send({ [MESSAGE_KEY]: 'serve' });
    } catch {
      return false;
    }
    return (await raceTimer(Promise.race([acked, this.exited.then(() => false)]), timeoutMs)) === true;
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
