import type { MeterProvider } from '@opentelemetry/api';
import { checkBundleSerialOption } from '@reloadscope/config';
import { checkDurationMs, checkObject, checkPositiveInteger, type ReloadInstrumentation } from '@reloadscope/core';
import { DEFAULT_IDLE_CLOSE_MS } from './protocol.ts';

export interface ClusterOptions {
  /** The release directory, or a symlink to one (a bundle root's `current`). Resolved once per upgrade. */
  release: string;
  /** The app's entry file, relative to the release. */
  entry: string;
  /** Workers per generation. Default: the number of CPUs (at least 1). */
  workers?: number;
  /** The reload target of the upgrades (`hotreload.target`). Default `app-code`. */
  target?: string;
  /** How long a new worker may take to become ready. Default 10 000 ms. */
  readyTimeoutMs?: number;
  /** How long an old worker may take to drain before it is killed. Default 10 000 ms. */
  drainTimeoutMs?: number;
  /** A path each new worker must answer 2xx on (GET, through a private loopback port to its listener on the service address). */
  health?: string;
  /**
   * The service port. Without it the service address is every fixed-port address the first
   * generation listens on; with it, only its listeners on this port, and a first generation that
   * does not listen on it is refused.
   */
  port?: number;
  /** Ed25519 public key (PEM): every release must then be a signed @reloadscope/config bundle release. */
  publicKey?: string | Buffer;
  /**
   * Rollback protection (needs `publicKey`), config's for bundles: every release's signed manifest
   * must carry a `serial`, and one below the highest accepted (by this process, or recorded in
   * `stateFile`) is refused with `version_rollback`. `stateFile` keeps the floor across restarts;
   * put it where whoever writes releases cannot write.
   */
  serial?: true | { stateFile?: string };
  /** How long a ready worker must stay alive before it counts as verified. Default 1000 ms. */
  stabilizeMs?: number;
  /** An idle keep-alive socket of a draining worker is closed after this long (0: at once). Default 500 ms. */
  idleCloseMs?: number;
  /** Default: a new ReloadInstrumentation on the global providers. */
  instrumentation?: ReloadInstrumentation;
  /** Receives the hotreload.cluster.* metrics. Default: the global MeterProvider. */
  meterProvider?: MeterProvider;
  /**
   * Extra environment for the workers, merged over the supervisor's own minus what it keeps to
   * itself (`RELOADSCOPE_CLUSTER_*`, and any variable holding the HTTP trigger's token).
   */
  env?: Record<string, string>;
  /** Extra execArgv for the workers (the supervisor's own are not inherited). */
  execArgv?: string[];
}

export interface ClusterSettings {
  release: string;
  entry: string;
  workers: number;
  target: string;
  readyTimeoutMs: number;
  drainTimeoutMs: number;
  health: string | undefined;
  port: number | undefined;
  publicKey: string | Buffer | undefined;
  serial: { stateFile?: string } | undefined;
  stabilizeMs: number;
  idleCloseMs: number;
  env: Record<string, string>;
  execArgv: string[];
}

export const DEFAULT_TARGET = 'app-code';
const MAX_WORKERS = 256;

function checkString(name: string, value: unknown, optional = false): string | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) throw new TypeError(`superviseCluster: options.${name} must be a non-empty string`);
  return value;
}

function checkStrings(name: string, value: unknown, entries: boolean): void {
  if (value === undefined) return;
  const ok = entries
    ? typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string')
    : Array.isArray(value) && value.every((v) => typeof v === 'string');
  if (!ok) throw new TypeError(`superviseCluster: options.${name} must be ${entries ? 'an object of strings' : 'an array of strings'}`);
}

export function checkClusterOptions(options: ClusterOptions, cpus: number): ClusterSettings {
  const o = checkObject('superviseCluster: options', options) as Partial<ClusterOptions>;
  const health = checkString('health', o.health, true);
  if (health !== undefined && !health.startsWith('/')) throw new TypeError('superviseCluster: options.health must be a path starting with "/"');
  if (o.publicKey !== undefined && typeof o.publicKey !== 'string' && !Buffer.isBuffer(o.publicKey)) {
    throw new TypeError('superviseCluster: options.publicKey must be a PEM string or a Buffer');
  }
  checkStrings('env', o.env, true);
  checkStrings('execArgv', o.execArgv, false);
  const target = checkString('target', o.target ?? DEFAULT_TARGET)!;
  if (target.length > 128) throw new TypeError('superviseCluster: options.target must be at most 128 characters');
  return {
    release: checkString('release', o.release)!,
    entry: checkString('entry', o.entry)!,
    workers: checkPositiveInteger('superviseCluster: options.workers', o.workers ?? Math.max(1, cpus), { max: MAX_WORKERS }),
    target,
    readyTimeoutMs: checkDurationMs('superviseCluster: options.readyTimeoutMs', o.readyTimeoutMs ?? 10_000),
    drainTimeoutMs: checkDurationMs('superviseCluster: options.drainTimeoutMs', o.drainTimeoutMs ?? 10_000),
    health,
    port: o.port === undefined ? undefined : checkPositiveInteger('superviseCluster: options.port', o.port, { min: 1, max: 65535 }),
    publicKey: o.publicKey,
    serial: checkBundleSerialOption(o.serial, 'superviseCluster: options.serial', o.publicKey !== undefined),
    stabilizeMs: checkDurationMs('superviseCluster: options.stabilizeMs', o.stabilizeMs ?? 1000, { min: 0 }),
    idleCloseMs: checkDurationMs('superviseCluster: options.idleCloseMs', o.idleCloseMs ?? DEFAULT_IDLE_CLOSE_MS, { min: 0 }),
    env: { ...(o.env ?? {}) },
    execArgv: [...(o.execArgv ?? [])],
  };
}
