import { join, resolve } from 'node:path';
import { acquireLock, describeHolder, type HeldLock, LockBusyError } from './cross-process-lock.ts';
import { ConfigError, fsErrorCode } from './errors.ts';

/** The lock directory in a bundle root: one activation of the root at a time, across processes. */
export const ACTIVATION_LOCK = '.activation.lock';

/** Per resolved root, the activation in this process that the next one waits for. */
const turns = new Map<string, Promise<void>>();

/**
 * Resolves true when `before` settles first, false at `deadline` (epoch ms); rejects with the
 * signal's reason when it aborts first. Leaves no timer or listener behind.
 */
function beforeDeadline(before: Promise<void>, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const late = new Promise<boolean>((resolve, reject) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
    onAbort = () => reject(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([before.then(() => true), late]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}

/**
 * Make the caller the only activation of `root` until it calls `release()`: activations in this
 * process take turns in call order, other processes are kept out by the lock directory
 * (cross-process-lock.ts, which breaks the lock of a holder that was killed). Waiting counts
 * against the activation's deadline: at `deadline` (epoch ms) this rejects with `bundle_locked`
 * naming the holder; a lock that cannot be written at all is the filesystem's code. `signal`
 * (the run's deadline) stops the wait with its reason.
 */
export async function lockBundleRoot(root: string, deadline: number, signal?: AbortSignal): Promise<HeldLock> {
  const key = resolve(root);
  const before = turns.get(key) ?? Promise.resolve();
  let passOn!: () => void;
  const mine = new Promise<void>((r) => {
    passOn = r;
  });
  const tail = before.then(() => mine);
  turns.set(key, tail);
  void tail.then(() => {
    if (turns.get(key) === tail) turns.delete(key);
  });
  try {
    if (!(await beforeDeadline(before, deadline, signal))) {
      throw new ConfigError('bundle_locked', `an earlier activation of this bundle root in this process (pid ${process.pid}) was still running at the deadline`, {
        stage: 'load',
      });
    }
    const lock = await acquireLock(join(root, ACTIVATION_LOCK), deadline, signal);
    return {
      held: lock.held,
      release: async () => {
        await lock.release();
        passOn();
      },
    };
  } catch (err) {
    passOn();
    if (err instanceof ConfigError || signal?.aborted) throw err;
    if (err instanceof LockBusyError) {
      // Without a record, the path is taken by something that is not a lock: named, never removed.
      const by = err.holder ? `another activation of this bundle root (${describeHolder(err.holder)}) held` : 'something that is not a lock occupied';
      throw new ConfigError('bundle_locked', `${by} its lock ${ACTIVATION_LOCK} until the deadline`, { cause: err, stage: 'load' });
    }
    const errno = (err as NodeJS.ErrnoException | undefined)?.code ?? 'unknown';
    const what = errno === 'ENOENT' ? 'the bundle root does not exist' : `cannot write the activation lock in the bundle root (${errno})`;
    throw new ConfigError(fsErrorCode(err), what, { cause: err, stage: 'load' });
  }
}
