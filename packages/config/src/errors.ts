import { ReloadError } from '@reloadscope/core';
import type { ReloadStage } from '@reloadscope/core';

/**
 * Every way a config version can be rejected, as stable codes. They become the span's
 * `error.type` and `result.error.code`, so dashboards and alerts can rely on them.
 */
export const CONFIG_ERROR_CODES = [
  'not_found',
  'permission_denied',
  'read_error',
  'too_large',
  'empty',
  'parse_error',
  'schema_violation',
  'checksum_mismatch',
  'missing_checksum',
  'bad_signature',
  'missing_signature',
  'subscriber_failed',
  'signal_refused',
  'bundle_invalid',
  'bundle_locked',
  'tls_cert_invalid',
  'tls_key_invalid',
  'tls_key_mismatch',
  'tls_not_yet_valid',
  'tls_expired',
  'tls_validity_too_short',
  'tls_chain_untrusted',
  'version_rollback',
  'prune_failed',
] as const;
export type ConfigErrorCode = (typeof CONFIG_ERROR_CODES)[number];

/**
 * A rejection. The message is written by this package and never quotes config content
 * (parsers and schema libraries do quote it, so their errors only travel as `cause`,
 * which reloadscope never exports).
 */
export class ConfigError extends ReloadError {
  declare readonly code: ConfigErrorCode;

  constructor(code: ConfigErrorCode, message: string, options: { cause?: unknown; stage?: ReloadStage } = {}) {
    super(code, message, options);
    // Keep core's name: core recognises ReloadErrors by name too, so codes survive even when an
    // app ends up with two copies of @reloadscope/core.
    this.name = 'ReloadError';
  }
}

/** Map a filesystem error to a code without ever using its message (it contains the path only, but stay uniform). */
export function fsErrorCode(err: unknown): ConfigErrorCode {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'not_found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission_denied';
  return 'read_error';
}

export function fsError(err: unknown, what: string, stage?: ReloadStage): ConfigError {
  const code = fsErrorCode(err);
  const errno = (err as NodeJS.ErrnoException | undefined)?.code ?? 'unknown';
  return new ConfigError(code, `cannot read ${what} (${errno})`, { cause: err, stage });
}
