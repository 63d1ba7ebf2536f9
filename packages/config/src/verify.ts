import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ConfigError } from './errors.ts';
import { readRegular } from './read.ts';
import type { SerialOptions } from './serial.ts';

/** Optional integrity checks of the raw bytes, done before the value is trusted. */
export interface IntegrityOptions {
  /** A file holding the expected sha256 (bare hex, or `sha256sum` output `<hex>  <name>`). */
  sha256File?: string;
  /** Ed25519 public key (PEM/DER, or a KeyObject). Enables signature checking. */
  publicKey?: string | Buffer | KeyObject;
  /** Detached Ed25519 signature of the file bytes (raw 64 bytes or base64). Default `<file>.sig`. */
  signatureFile?: string;
  /**
   * Rollback protection (needs `publicKey`): refuse a signed version whose serial is lower than
   * the highest one accepted, with `version_rollback`. `true` reads the top-level `serial` field.
   */
  serial?: true | SerialOptions;
}

const HEX64 = /^[0-9a-f]{64}$/;
const MAX_SIDECAR = 64 * 1024;

/** Through read.ts like the config itself: never blocks on a FIFO, refuses devices, capped while reading. */
async function readSidecar(path: string, missing: 'missing_checksum' | 'missing_signature'): Promise<Buffer> {
  const what = `${missing.slice(8)} file`;
  try {
    return (await readRegular(path, MAX_SIDECAR, { what, stage: 'verify' })).bytes;
  } catch (err) {
    if (err instanceof ConfigError && err.code === 'not_found') throw new ConfigError(missing, `cannot read ${what}`, { cause: err, stage: 'verify' });
    throw err;
  }
}

export async function checkSha256File(sha256File: string, actualHex: string): Promise<void> {
  const text = (await readSidecar(sha256File, 'missing_checksum')).toString('utf8').trim();
  const expected = text.split(/\s+/, 1)[0]?.toLowerCase() ?? '';
  if (!HEX64.test(expected)) {
    throw new ConfigError('checksum_mismatch', 'checksum file does not hold a sha256 hex digest', { stage: 'verify' });
  }
  if (expected !== actualHex) {
    // Both are hashes, safe to show; they tell an operator which side is stale.
    throw new ConfigError('checksum_mismatch', `sha256 ${actualHex} does not match expected ${expected}`, { stage: 'verify' });
  }
}

export function toPublicKey(key: string | Buffer | KeyObject): KeyObject {
  const object = typeof key === 'object' && 'asymmetricKeyType' in key ? key : createPublicKey(key);
  if (object.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`verify.publicKey must be an Ed25519 key, got ${object.asymmetricKeyType ?? 'a symmetric key'}`);
  }
  return object;
}

function decodeSignature(raw: Buffer): Buffer | undefined {
  if (raw.byteLength === 64) return raw;
  const text = raw.toString('latin1').trim();
  if (/^[A-Za-z0-9+/=_-]+$/.test(text)) {
    const decoded = Buffer.from(text, 'base64');
    if (decoded.byteLength === 64) return decoded;
  }
  return undefined;
}

/** Verify a detached Ed25519 signature over exactly `bytes` (`what` names them in the message). */
export async function checkSignature(bytes: Uint8Array, signatureFile: string, key: KeyObject, what = 'config bytes'): Promise<void> {
  const signature = decodeSignature(await readSidecar(signatureFile, 'missing_signature'));
  if (!signature) throw new ConfigError('bad_signature', 'signature file does not hold an Ed25519 signature', { stage: 'verify' });
  let ok = false;
  try {
    ok = verifySignature(null, bytes, key, signature);
  } catch (err) {
    throw new ConfigError('bad_signature', 'signature could not be checked', { cause: err, stage: 'verify' });
  }
  if (!ok) throw new ConfigError('bad_signature', `Ed25519 signature does not match the ${what}`, { stage: 'verify' });
}

/**
 * Validate with any Standard Schema (zod, valibot, arktype…). Returns the schema's output
 * (schemas may coerce or fill defaults). Issue messages can quote values, so the error names
 * only the paths (config key names) and the full issues stay in `cause`.
 */
export async function validateSchema<S extends StandardSchemaV1>(schema: S, value: unknown): Promise<StandardSchemaV1.InferOutput<S>> {
  let result: StandardSchemaV1.Result<StandardSchemaV1.InferOutput<S>>;
  try {
    result = await schema['~standard'].validate(value);
  } catch (err) {
    throw new ConfigError('schema_violation', 'schema validation threw', { cause: err, stage: 'verify' });
  }
  if (result.issues) {
    const paths = result.issues.slice(0, 5).map((issue) => formatPath(issue.path));
    const more = result.issues.length > 5 ? ` and ${result.issues.length - 5} more` : '';
    throw new ConfigError('schema_violation', `config does not match schema at ${paths.join(', ')}${more}`, {
      cause: result.issues,
      stage: 'verify',
    });
  }
  return result.value;
}

/** Short identifier-like keys are names; anything else (a map keyed by tokens?) is masked. */
const NAME_LIKE = /^[A-Za-z_][A-Za-z0-9_-]{0,31}$/;

function formatPath(path: StandardSchemaV1.Issue['path']): string {
  if (!path || path.length === 0) return '(root)';
  return path
    .map((seg) => (typeof seg === 'object' && seg !== null && 'key' in seg ? seg.key : seg))
    .map((key) => (typeof key === 'number' ? `[${key}]` : typeof key === 'string' && NAME_LIKE.test(key) ? key : '<key>'))
    .join('.')
    .replaceAll('.[', '[');
}
