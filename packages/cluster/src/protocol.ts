/**
 * The messages between the supervisor and its workers' bootstrap, over the cluster IPC channel.
 * Plain strings in a `reloadscope` field, so an app's own `process.on('message')` can ignore them.
 */
export const MESSAGE_KEY = 'reloadscope.cluster';

export type ToWorker = { [MESSAGE_KEY]: 'drain'; idleCloseMs: number } | { [MESSAGE_KEY]: 'serve' };

/** How long an idle keep-alive socket of a draining worker stays open (`idleCloseMs`) unless set. */
export const DEFAULT_IDLE_CLOSE_MS = 500;

/**
 * The idle-close delay a `drain` message carries. 0 is valid (close idle sockets at once): only a
 * message without a usable number, which the supervisor never sends, gets the default.
 */
export function idleCloseOf(message: unknown): number {
  const value = (message as { idleCloseMs?: unknown } | null)?.idleCloseMs;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : DEFAULT_IDLE_CLOSE_MS;
}

/** One server of the app listening: its address (a pipe path when `port` is null). */
export interface ListeningMessage {
  [MESSAGE_KEY]: 'listening';
  /** Per worker; `closed` names it when the server stops listening. */
  id: number;
  address: string;
  port: number | null;
  /** It asked for port 0 (or none): not a service address. */
  ephemeral: boolean;
  /** The worker's private loopback port that reaches this server, with `--health` and an HTTP server. */
  health: number | null;
}

export type FromWorker =
  | { [MESSAGE_KEY]: 'defer-ready' }
  | { [MESSAGE_KEY]: 'ready' }
  | { [MESSAGE_KEY]: 'draining' }
  | { [MESSAGE_KEY]: 'serving' }
  | ListeningMessage
  | { [MESSAGE_KEY]: 'closed'; id: number }
  | { [MESSAGE_KEY]: 'metrics-url'; url: string };

/** Environment of a worker: what the bootstrap needs to know. */
export const ENV_GENERATION = 'RELOADSCOPE_CLUSTER_GENERATION';
export const ENV_SLOT = 'RELOADSCOPE_CLUSTER_SLOT';
export const ENV_HEALTH = 'RELOADSCOPE_CLUSTER_HEALTH';
/** Set for a generation that is verified while another one serves: it takes no connection before `serve`. */
export const ENV_HOLD = 'RELOADSCOPE_CLUSTER_HOLD';
/** Set when the worker runs @reloadscope/register for the supervisor: report its private metrics URL. */
export const ENV_METRICS = 'RELOADSCOPE_CLUSTER_METRICS';

/** The process-global slot where `onDrain` hooks wait for the bootstrap (any copy of this package). */
export const DRAIN_HOOKS = Symbol.for('reloadscope.cluster.drainHooks');

export function messageOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const kind = (value as Record<string, unknown>)[MESSAGE_KEY];
  return typeof kind === 'string' ? kind : undefined;
}

/** The span a worker records from its start to listening, a child of the upgrade's load stage. */
export const SPAN_WORKER_START = 'hotreload.cluster.worker.start';
export const ATTR_WORKER_SLOT = 'hotreload.cluster.worker.slot';
export const ATTR_GENERATION_NUMBER = 'hotreload.cluster.generation.number';
