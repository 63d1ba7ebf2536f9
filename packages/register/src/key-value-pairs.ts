/**
 * The `key=value,key2=value2` format of OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS,
 * keys and values percent-decoded. The spec lets an SDK discard the whole variable on one error;
 * the upstream detector does, silently, so a single typo loses service.namespace,
 * deployment.environment.name and the rest. Here a malformed pair is skipped alone and described
 * by its position (and key, when the key itself is sound) — never by its value, which may be a
 * secret.
 */

export interface SkippedPair {
  /** 1-based position among the comma-separated entries. */
  position: number;
  /** The decoded key, only when the key is well-formed (the fault is in the value). */
  key?: string;
  reason: string;
}

export interface ParsedKeyValuePairs {
  attributes: Record<string, string>;
  skipped: SkippedPair[];
}

// A W3C Baggage key is an RFC 7230 token; '%' is added for percent-encoded characters.
const KEY_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

export function parseKeyValuePairs(raw: string): ParsedKeyValuePairs {
  const attributes: Record<string, string> = {};
  const skipped: SkippedPair[] = [];
  const entries = raw.split(',');
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!.trim();
    if (entry === '') continue; // "a=1,,b=2" and a trailing comma are harmless
    const position = i + 1;
    const eq = entry.indexOf('=');
    if (eq < 0) {
      skipped.push({ position, reason: "no '='" });
      continue;
    }
    const rawKey = entry.slice(0, eq).trim();
    const rawValue = entry.slice(eq + 1).trim();
    if (rawKey === '') {
      skipped.push({ position, reason: 'empty key' });
      continue;
    }
    const key = KEY_CHARS.test(rawKey) ? decode(rawKey) : undefined;
    if (key === undefined || key === '' || CONTROL.test(key)) {
      skipped.push({ position, reason: 'invalid characters or percent-encoding in the key' });
      continue;
    }
    const value = CONTROL.test(rawValue) ? undefined : decode(rawValue);
    if (value === undefined || CONTROL.test(value)) {
      skipped.push({ position, key, reason: 'invalid characters or percent-encoding in the value' });
      continue;
    }
    // defineProperty: a `__proto__` key is a key here, not the object's prototype.
    Object.defineProperty(attributes, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return { attributes, skipped };
}

/** One line for all skipped pairs of `variable`; keys are shown shortened and escaped, values never. */
export function describeSkipped(variable: string, skipped: readonly SkippedPair[], kept: number): string {
  const parts = skipped.map((s) => {
    const key = s.key === undefined ? '' : `, key ${JSON.stringify(s.key.length > 64 ? `${s.key.slice(0, 64)}…` : s.key)}`;
    return `pair ${s.position}${key}: ${s.reason}`;
  });
  const noun = skipped.length === 1 ? 'pair' : 'pairs';
  return (
    `${variable}: skipped ${skipped.length} malformed ${noun} (${parts.join('; ')}); ` +
    `the other ${kept} ${kept === 1 ? 'pair is' : 'pairs are'} used. Expected key=value, with ',' '=' and non-ASCII percent-encoded.`
  );
}
