import { acquireLock } from './cross-process-lock.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { replaceFileDurably } from './durable.ts';
import { ConfigError } from './errors.ts';
import { readCapped } from './read.ts';

/**
 * Rollback protection (TUF's "rollback attack"): every signed version carries a serial inside
 * the signed bytes, and a version whose serial is lower than the highest one accepted so far is
 * refused. A serial names exactly one version: an equal serial is accepted only for the very same
 * bytes (a restart, a re-activation), so versions signed with the same serial cannot be swapped.
 */
export interface SerialMark {
  serial: number;
  /** sha256 of the signed bytes that carried the serial. */
  hash: string;
}

export interface SerialOptions {
  /** The serial of the parsed, signature-verified value. Default: its top-level `serial` field. */
  // Method syntax on purpose: a reader typed for the app's config, `(c: Config) => c.rev`, fits.
  read?(value: unknown): unknown;
  /**
   * A JSON file that keeps the highest accepted serial across restarts, replaced durably after
   * each success. Put it where whoever writes the config cannot write (see the README).
   */
  stateFile?: string;
}

const MAX_STATE_BYTES = 4096;
/** A state write holds its lock for a few fsyncs; ten seconds of waiting means something is wrong. */
const STATE_LOCK_WAIT_MS = 10_000;
const HEX64 = /^[0-9a-f]{64}$/;

export function isSerial(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The higher of two marks (the first one on a tie). */
export function higherMark(a: SerialMark | undefined, b: SerialMark | undefined): SerialMark | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.serial > a.serial ? b : a;
}

/** Throw `version_rollback` when `candidate` may not replace what `floor` accepted. */
export function refuseRollback(candidate: SerialMark, floor: SerialMark | undefined, what: string): void {
  if (!floor || candidate.serial > floor.serial) return;
  if (candidate.serial === floor.serial && candidate.hash === floor.hash) return;
  const reason =
    candidate.serial < floor.serial ? `is older than the accepted serial ${floor.serial}` : 'was already accepted for different content';
  // Serials are version numbers, not config values: safe in messages and spans.
  throw new ConfigError('version_rollback', `${what} serial ${candidate.serial} ${reason}`, { stage: 'verify' });
}

/**
 * The mark kept in a state file, or undefined when the file does not exist (first use). Any other
 * problem fails closed: a state file that cannot be trusted must not silently reset protection.
 */
export async function readSerialState(path: string): Promise<SerialMark | undefined> {
  let bytes: Buffer;
  try {
    ({ bytes } = await readCapped(path, MAX_STATE_BYTES));
  } catch (err) {
    if (err instanceof ConfigError && err.code === 'not_found') return undefined;
    throw new ConfigError('version_rollback', `cannot read the serial state file (${(err as { code?: string }).code ?? 'error'}); refusing until it is readable`, {
      cause: err,
      stage: 'verify',
    });
  }
  let mark: Partial<SerialMark> | undefined;
  try {
    mark = JSON.parse(bytes.toString('utf8'));
  } catch {
    mark = undefined;
  }
  if (!isSerial(mark?.serial) || typeof mark?.hash !== 'string' || !HEX64.test(mark.hash)) {
    throw new ConfigError('version_rollback', 'the serial state file is malformed; refusing until it is fixed or removed', { stage: 'verify' });
  }
  return { serial: mark.serial, hash: mark.hash };
}

/**
 * Raise the state file to `mark`, never lower it. Replicas of a service (or deployers) may share
 * one state file: the read and the replace happen under the file's lock (`<path>.lock`), or a
 * writer that read 3 could replace the 5 another one wrote meanwhile with its 4. Rejects when the
 * lock stays held by a live process for STATE_LOCK_WAIT_MS (reported as `serial_state_failed`).
 */
export async function writeSerialState(path: string, mark: SerialMark): Promise<void> {
  const lock = await acquireLock(`${path}.lock`, Date.now() + STATE_LOCK_WAIT_MS);
  try {
    const stored = await readSerialState(path).catch(() => undefined);
    if (stored && higherMark(stored, mark) === stored) return;
    await replaceFileDurably(path, `${JSON.stringify({ serial: mark.serial, hash: mark.hash })}\n`);
  } finally {
    await lock.release();
  }
}

function checkStateFile(stateFile: unknown, option: string): void {
  if (stateFile !== undefined && (typeof stateFile !== 'string' || stateFile === '')) {
    throw new TypeError(`${option}.stateFile must be a non-empty string`);
  }
}

/** `true` or `{ stateFile? }`, as the bundle and config options accept it. */
export function serialOptions(value: unknown, option: string, signed: boolean): SerialOptions | undefined {
  if (value === undefined || value === false) return undefined;
  // Without a signature anyone who can write a version can also write a higher serial.
  if (!signed) throw new TypeError(`${option} needs a publicKey: an unsigned serial can be forged`);
  if (value === true) return {};
  if (typeof value !== 'object' || value === null) throw new TypeError(`${option} must be true or an object`);
  const options = value as SerialOptions;
  checkStateFile(options.stateFile, option);
  if (options.read !== undefined && typeof options.read !== 'function') throw new TypeError(`${option}.read must be a function`);
  return options;
}

/**
 * The high-water mark of one config watcher: in memory for the process lifetime, seeded once
 * from the state file. `check` runs in the verify stage; `commit` only after a successful switch,
 * so a version that was rolled back (a listener refused it) never raises the mark.
 */
export class SerialGuard {
  readonly #options: SerialOptions;
  readonly #report: DiagnosticSink;
  readonly #what: () => string;
  #accepted: SerialMark | undefined;
  #seeded = false;
  #pending: SerialMark | undefined;

  constructor(options: SerialOptions, report: DiagnosticSink, what: () => string) {
    this.#options = options;
    this.#report = report;
    this.#what = what;
  }

  async check(value: unknown, hash: string): Promise<void> {
    let raw: unknown;
    try {
      raw = this.#options.read ? this.#options.read(value) : (value as { serial?: unknown } | null)?.serial;
    } catch (err) {
      // A reader may quote the value in its error: it only travels as `cause`.
      throw new ConfigError('schema_violation', 'verify.serial.read threw', { cause: err, stage: 'verify' });
    }
    if (!isSerial(raw)) {
      throw new ConfigError('schema_violation', 'config has no valid serial (a non-negative integer) for rollback protection', { stage: 'verify' });
    }
    if (!this.#seeded && this.#options.stateFile) {
      this.#accepted = higherMark(this.#accepted, await readSerialState(this.#options.stateFile));
    }
    this.#seeded = true;
    const candidate = { serial: raw, hash };
    refuseRollback(candidate, this.#accepted, 'config');
    this.#pending = candidate;
  }

  /** Called once the version with `activeHash` is active. Never rejects: a failed write is reported. */
  commit(activeHash: string | undefined): Promise<void> | undefined {
    const pending = this.#pending;
    this.#pending = undefined;
    if (!pending || pending.hash !== activeHash) return undefined;
    this.#accepted = higherMark(this.#accepted, pending);
    const stateFile = this.#options.stateFile;
    if (!stateFile) return undefined;
    return writeSerialState(stateFile, pending).catch((err: unknown) => {
      const errno = (err as { code?: string }).code ?? 'error';
      this.#report({
        code: 'serial_state_failed',
        message: `${this.#what()}: could not record serial ${pending.serial} in the state file (${errno}); protection holds in memory until restart`,
      });
    });
  }
}
