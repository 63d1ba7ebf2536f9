import { createHash } from 'node:crypto';
import type { VersionIdentity } from './types.ts';

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The first 48 bits of a sha256 digest as a number. 48 bits fit float64's 53-bit mantissa, so the
 * gauge survives Prometheus exactly (a full 64-bit prefix would lose its low bits).
 * Accepts a non-hex identity too (hashing it first) so user-supplied version strings still work.
 */
export function hashToGauge(hash: string): number {
  const hex = HEX64.test(hash) ? hash : sha256Hex(hash);
  return Number.parseInt(hex.slice(0, 12), 16);
}

/** JSON with sorted keys, so two equal objects hash equal regardless of key order. */
function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      const proto = Object.getPrototypeOf(v);
      if (proto === Object.prototype || proto === null) {
        // fromEntries defines own properties: an assignment of a `__proto__` key (which JSON and
        // YAML parse as an own key) would set the prototype and drop that subtree from the hash.
        return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
      }
    }
    return v;
  });
}

/**
 * Default identity of a candidate: sha256 of its bytes, or of a key-sorted JSON rendering.
 * Returns undefined for values that cannot be serialised (cycles, BigInt): such candidates
 * are never reported `unchanged`.
 */
export function defaultIdentity(candidate: unknown): VersionIdentity | undefined {
  if (typeof candidate === 'string') {
    return { hash: sha256Hex(candidate), size: Buffer.byteLength(candidate) };
  }
  try {
    // Inside the try: `instanceof` walks the prototype chain, which a Proxy candidate can make throw.
    if (candidate instanceof Uint8Array) {
      return { hash: sha256Hex(candidate), size: candidate.byteLength };
    }
    const text = stableStringify(candidate);
    if (text === undefined) return undefined;
    return { hash: sha256Hex(text) };
  } catch {
    return undefined;
  }
}
