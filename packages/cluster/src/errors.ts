import { ReloadError, type ReloadStage } from '@reloadscope/core';

/**
 * Every code an upgrade can fail with besides core's and config's (a release that fails
 * verification carries config's bundle codes). Each becomes the run's `error.type`.
 */
export const CLUSTER_ERROR_CODES = [
  /** A new worker exited before it was ready or during the stabilization window. */
  'worker_exited',
  /**
   * A new worker did not become ready within `readyTimeoutMs`: it never listened on a fixed
   * address, or never called `ready()` after `deferReady()`; or it did not confirm the switch.
   */
  'ready_timeout',
  /** A new worker listened, but not on every service address the current generation serves. */
  'wrong_address',
  /** A new worker stopped listening on a service address within the stabilization window. */
  'stopped_listening',
  /** The `health` GET of a new worker failed or answered other than 2xx. */
  'health_failed',
  /** `release` does not resolve to a directory, or `entry` is not a file in it. */
  'release_invalid',
  /** The supervisor is closing: no upgrade starts. */
  'closed',
] as const;
export type ClusterErrorCode = (typeof CLUSTER_ERROR_CODES)[number];

export class ClusterError extends ReloadError {
  declare readonly code: ClusterErrorCode;

  constructor(code: ClusterErrorCode, message: string, options: { cause?: unknown; stage?: ReloadStage } = {}) {
    super(code, message, options);
    this.name = 'ClusterError';
  }
}
