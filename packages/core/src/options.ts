import { describeValue } from './thrown.ts';

/**
 * Option checks shared by every reloadscope package. Each throws a TypeError naming the option
 * (`name` is the full name as the user wrote it, e.g. `watchConfig: options.maxBytes`) and
 * returns the value, so `const x = checkPositiveInteger(name, options.x ?? DEFAULT)` reads well.
 * They exist because `Number(process.env.X)` is NaN for an unset variable, and NaN slips through
 * every `<`/`>` comparison: a NaN rate limit is no limit, a NaN poll interval is 1 ms.
 */

/** setTimeout's largest delay; a larger one fires after 1 ms (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2_147_483_647;

export interface RangeOptions {
  /** Smallest allowed value (inclusive). Default 1. */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
}

/** An integer in [min (default 1), max (default MAX_SAFE_INTEGER)]. */
export function checkPositiveInteger(name: string, value: unknown, range: RangeOptions = {}): number {
  const min = range.min ?? 1;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(`${name} must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}

/** A finite number of milliseconds in [min (default 1), max (default MAX_TIMER_MS)]. */
export function checkDurationMs(name: string, value: unknown, range: RangeOptions = {}): number {
  const min = range.min ?? 1;
  const max = range.max ?? MAX_TIMER_MS;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new TypeError(`${name} must be a number of milliseconds from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}

/** One of a closed set of values (strings, usually). */
export function checkOneOf<const T>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new TypeError(`${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describeValue(value)}`);
  }
  return value as T;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be true or false, got ${describeValue(value)}`);
  return value;
}

/** A plain options object (or undefined, which reads as `{}`). */
export function checkObject<T extends object>(name: string, value: T | undefined): T | Record<string, never> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  return value;
}
