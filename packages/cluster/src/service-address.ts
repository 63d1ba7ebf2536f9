/**
 * The service address: where the current generation accepts the connections of clients, and so
 * where a new generation must accept them before it may replace the current one.
 *
 * Learned once, from the first generation: every address each of its workers listens on with a
 * fixed port (or a pipe path), or with `port` only those on that port. Ephemeral listeners
 * (port 0: reloadscope's own telemetry endpoint, an app's private admin port) never count. Every
 * later generation must listen on all of the learned addresses, exactly (address and port).
 */
import type { ListeningMessage } from './protocol.ts';

export interface Listener {
  /** `127.0.0.1:3000`, `[::]:3000`, or `unix:<path>` for a pipe. */
  key: string;
  /** undefined for a pipe. */
  port: number | undefined;
  ephemeral: boolean;
  /** The worker's private loopback port that reaches this listener (`--health`). */
  health: number | undefined;
}

/** What a new worker must listen on: the learned addresses, or (first generation) what to learn. */
export type ServiceSpec = { addresses: readonly string[] } | { learn: true; port: number | undefined };

export function listenerKey(address: string, port: number | null): string {
  if (port === null) return `unix:${address}`;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

const isPort = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min && (v as number) <= 65535;

/** A `listening` message from a worker, checked field by field: anything else is ignored. */
export function listenerOf(message: Partial<ListeningMessage>): { id: number; listener: Listener } | undefined {
  const { id, address, port, ephemeral, health } = message;
  if (!Number.isSafeInteger(id) || typeof address !== 'string' || address.length > 1024 || typeof ephemeral !== 'boolean') return undefined;
  if (port !== null && !isPort(port, 0)) return undefined;
  if (health !== null && health !== undefined && !isPort(health, 1)) return undefined;
  return { id: id as number, listener: { key: listenerKey(address, port ?? null), port: port ?? undefined, ephemeral, health: health ?? undefined } };
}

/**
 * The listeners of `listeners` that serve `spec` (in the order they began listening), or
 * undefined while they do not: every learned address, or for the first generation at least one
 * fixed-port listener (on `port` when given).
 */
export function serving(listeners: readonly Listener[], spec: ServiceSpec): Listener[] | undefined {
  if ('addresses' in spec) {
    const found = spec.addresses.map((key) => listeners.find((l) => l.key === key));
    return found.every((l) => l !== undefined) ? (found as Listener[]) : undefined;
  }
  const fixed = listeners.filter((l) => !l.ephemeral && (spec.port === undefined || l.port === spec.port));
  return fixed.length > 0 ? fixed : undefined;
}

/** The addresses every worker of a generation serves: the first generation's service address. */
export function commonAddresses(perWorker: ReadonlyArray<readonly string[]>): string[] {
  const [first = [], ...rest] = perWorker;
  return first.filter((key) => rest.every((keys) => keys.includes(key)));
}

export function describeListeners(listeners: readonly Listener[]): string {
  const fixed = listeners.filter((l) => !l.ephemeral).map((l) => l.key);
  const ephemeral = listeners.filter((l) => l.ephemeral).map((l) => l.key);
  if (fixed.length === 0 && ephemeral.length === 0) return 'it never listened';
  if (fixed.length === 0) return `it listened only on ephemeral ports (${ephemeral.join(', ')}), which are never a service address`;
  return `it listened on ${fixed.join(', ')}`;
}
