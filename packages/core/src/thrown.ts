import { ERROR_TYPE_OTHER, type ReloadStage, STAGES } from './semconv.ts';

/**
 * Reading a thrown value without trusting it. Stages, listeners and rollbacks may throw anything:
 * `undefined`, a symbol, a Proxy whose every trap throws, an object whose `name`/`code` getter
 * throws or returns yet another hostile object. Every read here is guarded and type-checked, no
 * value is ever coerced to a string (no toString/Symbol.toPrimitive), and the result is a plain
 * frozen snapshot, so code that reports an error never throws because of the error.
 */
export interface ThrownInfo {
  /**
   * `error.type`: the code of a genuine ReloadError, the class name of an Error
   * (PascalCase, e.g. `TypeError`), or `_OTHER`.
   */
  readonly type: string;
  /** Constructed by a ReloadError constructor (of any copy of @reloadscope/core). */
  readonly reloadError: boolean;
  /** The message (capped), for Errors only; whether it may be exported is the caller's policy. */
  readonly message: string | undefined;
  /** A genuine ReloadError's stage. */
  readonly stage: ReloadStage | undefined;
  /** Stack frames only (capped): the first line of `stack` repeats the message. */
  readonly frames: string | undefined;
}

/** ReloadError codes: snake_case, bounded, so they cannot carry arbitrary text into error.type. */
export const CODE_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
/** What an Error's `name` must look like to become error.type; anything else is `Error`. */
const CLASS_NAME = /^[A-Z][A-Za-z0-9]{0,63}$/;
const MAX_MESSAGE_CHARS = 1024;
const MAX_FRAMES = 64;
const MAX_FRAME_CHARS = 512;
const STAGE_SET: ReadonlySet<unknown> = new Set(STAGES);

/**
 * Instances built by a ReloadError constructor. Shared through the global symbol registry so two
 * copies of core in one app agree, and a WeakSet rather than a property so a lookalike object (a
 * spread copy, a JSON round trip, `{ name: 'ReloadError', code: … }`) is never taken for one.
 */
const REGISTRY_KEY = Symbol.for('@reloadscope/core.ReloadError.instances');
const GENUINE: WeakSet<object> = sharedRegistry();

function sharedRegistry(): WeakSet<object> {
  const holder = globalThis as { [REGISTRY_KEY]?: unknown };
  try {
    const existing = holder[REGISTRY_KEY];
    if (existing instanceof WeakSet) return existing as WeakSet<object>;
    const own = new WeakSet<object>();
    Object.defineProperty(globalThis, REGISTRY_KEY, { value: own, enumerable: false, writable: false, configurable: false });
    return own;
  } catch {
    return new WeakSet<object>();
  }
}

/** @internal called by the ReloadError constructor only. */
export function markGenuine(err: object): void {
  GENUINE.add(err);
}

export function isGenuine(value: unknown): boolean {
  return isObject(value) && GENUINE.has(value);
}

function isObject(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

/** `value[key]`, or undefined when the read throws (getters, Proxy traps, revoked proxies). */
export function safeGet(value: unknown, key: PropertyKey): unknown {
  if (!isObject(value)) return undefined;
  try {
    return (value as Record<PropertyKey, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** `value instanceof ctor`, false when the prototype walk throws (Proxy getPrototypeOf trap). */
export function safeInstanceOf(value: unknown, ctor: abstract new (...args: never[]) => unknown): boolean {
  if (!isObject(value)) return false;
  try {
    return value instanceof ctor;
  } catch {
    return false;
  }
}

// Error.isError (Node 24+) reads the internal brand: it sees Errors of other realms and never
// runs a Proxy trap.
const errorBrand = (Error as { isError?: (value: unknown) => boolean }).isError;
function isErrorBrand(value: unknown): boolean {
  return errorBrand?.(value) === true;
}

/** A string property, or undefined when it is missing, not a string or throws. */
export function safeString(value: unknown, key: PropertyKey): string | undefined {
  const v = safeGet(value, key);
  return typeof v === 'string' ? v : undefined;
}

const NOT_AN_ERROR: ThrownInfo = Object.freeze({ type: ERROR_TYPE_OTHER, reloadError: false, message: undefined, stage: undefined, frames: undefined });

// Getters may answer differently on every read; one snapshot per thrown object keeps the span,
// the metric and result.error in agreement.
const SNAPSHOTS = new WeakMap<object, ThrownInfo>();

export function inspectThrown(err: unknown): ThrownInfo {
  if (!isObject(err)) return NOT_AN_ERROR;
  const known = SNAPSHOTS.get(err);
  if (known) return known;
  const info = Object.freeze(readThrown(err));
  SNAPSHOTS.set(err, info);
  return info;
}

function readThrown(err: object): ThrownInfo {
  const reloadError = GENUINE.has(err);
  const isError = reloadError || isErrorBrand(err) || safeInstanceOf(err, Error);
  if (!isError) return NOT_AN_ERROR;
  let type: string;
  if (reloadError) {
    const code = safeString(err, 'code');
    type = code !== undefined && CODE_PATTERN.test(code) ? code : ERROR_TYPE_OTHER;
  } else {
    const name = safeString(err, 'name');
    type = name !== undefined && CLASS_NAME.test(name) ? name : 'Error';
  }
  const message = safeString(err, 'message');
  const stage = reloadError ? safeGet(err, 'stage') : undefined;
  return {
    type,
    reloadError,
    message: message === undefined ? undefined : cap(message, MAX_MESSAGE_CHARS),
    stage: STAGE_SET.has(stage) ? (stage as ReloadStage) : undefined,
    frames: framesOf(safeString(err, 'stack')),
  };
}

function framesOf(stack: string | undefined): string | undefined {
  if (stack === undefined) return undefined;
  const frames: string[] = [];
  // Scan a bounded prefix only: a stack getter may return megabytes.
  for (const line of stack.slice(0, MAX_FRAMES * (MAX_FRAME_CHARS + 1) * 2).split('\n')) {
    if (!line.startsWith('    at ')) continue;
    frames.push(cap(line, MAX_FRAME_CHARS));
    if (frames.length === MAX_FRAMES) break;
  }
  return frames.length > 0 ? frames.join('\n') : undefined;
}

function cap(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * What a bad value was, safe for an error message or a log line: numbers and booleans as they are,
 * anything else only by kind and size. Strings are never echoed: a value in the wrong option is
 * as likely a token or a password as a typo.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'boolean':
      return String(value);
    case 'string':
      return value === '' ? 'an empty string' : `a string of length ${value.length}`;
    case 'bigint':
      return 'a bigint';
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return 'an object';
  }
}
