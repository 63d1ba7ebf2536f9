/**
 * Option checks for the package's public functions. Every bad option is a `TypeError` that names
 * the function and the option (`watchConfig: options.watch.pollMs must be …, got NaN`), because the
 * bad values that reach us are rarely typos: `Number(process.env.X)` of an unset variable is `NaN`,
 * and `NaN`, `0`, `Infinity` or a timer delay past 2^31-1 ms silently turn into "no limit" or
 * "every millisecond" further down. The value is described, never echoed when it could be a secret
 * (a token) or large: strings and objects are only named by kind and size.
 */

// One rule for timer delays and one way to describe a bad value, shared with core's own checks.
import { describeValue, MAX_TIMER_MS } from '@reloadscope/core';

export { describeValue, MAX_TIMER_MS };

export interface NumberRange {
  min: number;
  max?: number;
  /** `min` itself is refused (a positive number: `min: 0, minExclusive: true`). */
  minExclusive?: boolean;
}

export interface StringRule {
  /** Default 1: an empty string is refused. */
  minLength?: number;
  /** Default 4096. */
  maxLength?: number;
  pattern?: RegExp;
  /** How `pattern` reads in the error message ("starting with '/'"). */
  patternText?: string;
}

/**
 * Reads and checks the options of one call. Each getter returns `undefined` for an absent
 * (`undefined`) option, so defaults stay at the call site (`o.integer('keep', 1) ?? 3`), and
 * throws for anything else that does not fit — `null` included.
 */
export class Options {
  readonly #fn: string;
  readonly #path: string;
  readonly #value: Record<string, unknown>;

  private constructor(fn: string, path: string, value: Record<string, unknown>) {
    this.#fn = fn;
    this.#path = path;
    this.#value = value;
  }

  /** The options object of `fn` (`path` names it in messages; '' for positional arguments). */
  static of(fn: string, value: unknown, path = 'options'): Options {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TypeError(`${fn}: ${path || 'arguments'} must be an object, got ${describeValue(value)}`);
    }
    return new Options(fn, path, value as Record<string, unknown>);
  }

  /** A nested options object (`watch`, `http`, `rateLimit`); undefined when absent. */
  child(name: string): Options | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(name, 'an object', v);
    return new Options(this.#fn, this.#label(name), v as Record<string, unknown>);
  }

  get(name: string): unknown {
    return this.#value[name];
  }

  fail(name: string, expected: string, value: unknown): never {
    throw new TypeError(`${this.#fn}: ${this.#label(name)} must be ${expected}, got ${describeValue(value)}`);
  }

  /** A safe integer in [min, max]. */
  integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      this.fail(name, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`, v);
    }
    return v;
  }

  /** A finite number in the range (no NaN, no Infinity). */
  number(name: string, range: NumberRange): number | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    const { min, max = Number.MAX_VALUE, minExclusive = false } = range;
    if (typeof v !== 'number' || !Number.isFinite(v) || (minExclusive ? v <= min : v < min) || v > max) {
      const low = minExclusive ? `> ${min}` : `>= ${min}`;
      this.fail(name, `a finite number ${low}${max === Number.MAX_VALUE ? '' : ` and <= ${max}`}`, v);
    }
    return v;
  }

  /**
   * Milliseconds for a timer: from 1 (or 0 with `allowZero`) to MAX_TIMER_MS, the same range as
   * core's checkDurationMs: Node runs any delay below 1 ms after 1 ms anyway.
   */
  duration(name: string, allowZero = false): number | undefined {
    return this.number(name, { min: allowZero ? 0 : 1, max: MAX_TIMER_MS });
  }

  string(name: string, rule: StringRule = {}): string | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    const { minLength = 1, maxLength = 4096, pattern, patternText } = rule;
    if (typeof v !== 'string' || v.length < minLength || v.length > maxLength || (pattern !== undefined && !pattern.test(v))) {
      const length = minLength === 1 ? `a non-empty string of at most ${maxLength} characters` : `a string of ${minLength} to ${maxLength} characters`;
      this.fail(name, patternText ? `${length} ${patternText}` : length, v);
    }
    return v;
  }

  boolean(name: string): boolean | undefined {
    const v = this.get(name);
    if (v !== undefined && typeof v !== 'boolean') this.fail(name, 'true or false', v);
    return v as boolean | undefined;
  }

  oneOf<const T extends string>(name: string, values: readonly T[]): T | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) this.fail(name, `one of ${values.map((x) => `'${x}'`).join(', ')}`, v);
    return v as T;
  }

  function<F extends (...args: never[]) => unknown>(name: string): F | undefined {
    const v = this.get(name);
    if (v !== undefined && typeof v !== 'function') this.fail(name, 'a function', v);
    return v as F | undefined;
  }

  /** An object with these methods (duck-typed: a second copy of a package fails `instanceof`). */
  withMethods<T>(name: string, methods: readonly string[]): T | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null || methods.some((m) => typeof (v as Record<string, unknown>)[m] !== 'function')) {
      this.fail(name, `an object with ${methods.map((m) => `${m}()`).join(', ')}`, v);
    }
    return v as T;
  }

  /** For required options: `o.required('path', o.string('path'), 'a non-empty string')`. */
  required<T>(name: string, value: T | undefined, expected: string): T {
    if (value === undefined) this.fail(name, expected, undefined);
    return value;
  }

  #label(name: string): string {
    return this.#path ? `${this.#path}.${name}` : name;
  }
}
