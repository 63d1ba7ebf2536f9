/**
 * The optional worker side, for apps whose readiness is more than listening or that hold
 * resources to release on drain. An app that uses neither needs no change at all. Outside a
 * supervised worker every function is a harmless no-op.
 *
 *   import { deferReady, ready, onDrain } from '@reloadscope/cluster/worker';
 *   deferReady();                      // at start-up, before listening
 *   await warmCaches(); ready();       // now the worker may take traffic
 *   onDrain(async () => db.end());     // runs once this worker's generation is replaced
 */
import { DRAIN_HOOKS, MESSAGE_KEY } from './protocol.ts';

export type DrainHook = () => void | Promise<void>;

function send(kind: string): void {
  // process.send exists only in a forked child with an IPC channel; a closed channel is no error here.
  if (typeof process.send !== 'function' || !process.connected) return;
  try {
    process.send({ [MESSAGE_KEY]: kind });
  } catch {
    // The supervisor is gone: nothing to tell.
  }
}

/**
 * Declare that this worker will call `ready()`: until it does, listening alone does not make it
 * ready, and the upgrade's verify stage waits (up to the ready timeout). Call it before listening.
 */
export function deferReady(): void {
  send('defer-ready');
}

/** This worker is ready for traffic (after `deferReady()`; without it listening is enough). */
export function ready(): void {
  send('ready');
}

/**
 * Run `hook` when this worker drains (its generation was replaced, or the supervisor stops). The
 * worker exits once its hooks settled and its connections closed, or is killed at the drain timeout.
 * Returns the function that removes the hook.
 */
export function onDrain(hook: DrainHook): () => void {
  if (typeof hook !== 'function') throw new TypeError('onDrain(hook): hook must be a function');
  const slot = globalThis as unknown as Record<symbol, Set<DrainHook> | undefined>;
  slot[DRAIN_HOOKS] ??= new Set();
  const hooks = slot[DRAIN_HOOKS];
  hooks.add(hook);
  return () => hooks.delete(hook);
}
