import { createPrivateKey, type KeyObject, randomBytes, sign } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink, unlink, utimes } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { MeterProvider } from '@opentelemetry/api';
import { DEFAULT_TIMEOUT_MS, ReloadInstrumentation, type ReloadResult, type ReloadStages, type ReloadTrigger, type StageContext, sha256Hex } from '@reloadscope/core';
import { lockBundleRoot } from './bundle-lock.ts';
import { declarePruneFailures, type PruneFailure, reportPruneFailure } from './bundle-telemetry.ts';
import type { HeldLock } from './cross-process-lock.ts';
import { type DiagnosticSink, diagnosticSink } from './diagnostics.ts';
import { fsyncDir, writeDurably } from './durable.ts';
import { checkActivateOptions } from './bundle-options.ts';
import { ConfigError, fsError } from './errors.ts';
import { parseBuiltin } from './parse.ts';
import { hashFile, readCapped } from './read.ts';
import { checkReleaseTree, isReleasePath } from './release-check.ts';
import { higherMark, isSerial, readSerialState, refuseRollback, type SerialMark, serialOptions, writeSerialState } from './serial.ts';
import { checkSignature, toPublicKey } from './verify.ts';

/**
 * A versioned bundle directory:
 *
 *   <root>/releases/<version>/…files…     immutable once written
 *   <root>/releases/<version>/manifest.json  { "serial"?: n, "files": { "<relative path>": "<sha256 hex>" } }
 *   <root>/releases/<version>/manifest.json.sig  optional Ed25519 signature of the manifest bytes
 *   <root>/current -> releases/<version>  the only thing that ever changes, by rename(2)
 *
 * rename(2) of a symlink over `current` is atomic, and a version is verified before `current`
 * may point at it, so a process killed at any moment leaves `current` at a complete version.
 * Activations of one root are serial, in this process and across processes (bundle-lock.ts), so
 * the serial floor read in verify still holds when `current` is renamed.
 */
export const MANIFEST = 'manifest.json';
export const MANIFEST_SIGNATURE = 'manifest.json.sig';
const RESERVED = [MANIFEST, MANIFEST_SIGNATURE] as const;
const TMP_MANIFEST = `.${MANIFEST}.tmp`;
export const RELEASES = 'releases';
export const CURRENT = 'current';
const TMP_PREFIX = '.current-';
const VERSION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface BundleManifest {
  /** Signed version number for rollback protection (a non-negative integer). */
  serial?: number;
  files: Record<string, string>;
}

/** Authenticity checks of a release, done in the verify stage before any file is hashed. */
export interface BundleVerifyOptions {
  /**
   * Ed25519 public key (PEM/DER or KeyObject, as for configs). Every release must then carry
   * `manifest.json.sig`, a detached signature of the manifest bytes (raw 64 bytes or base64).
   * The manifest pins every file's sha256, so the signature covers the whole release.
   */
  publicKey?: string | Buffer | KeyObject;
  /**
   * Rollback protection (needs `publicKey`): the manifest must carry a `serial`, and a release
   * whose serial is lower than the highest accepted (this process, the active release, the state
   * file) is refused with `version_rollback`. An equal serial is accepted only for the same manifest.
   */
  serial?: true | { stateFile?: string };
}

export interface VerifiedBundle {
  version: string;
  dir: string;
  /** sha256 of the manifest bytes: the bundle's identity (the manifest pins every file's hash). */
  hash: string;
  /** The manifest's serial, when it carries one (trust it only when a publicKey verified it). */
  serial?: number;
  files: number;
  size: number;
}

export interface AcceptBundleReleaseOptions {
  /** The serial state file the verification read (`verify.serial.stateFile`), raised here. */
  stateFile?: string;
  /** Where `serial_state_failed` goes. Default: the OpenTelemetry diag logger. */
  onDiagnostic?: DiagnosticSink;
  /** Names the deployer in that diagnostic. Default: the root directory's base name. */
  target?: string;
}

export interface ActivateBundleOptions {
  root: string;
  version: string;
  /** Releases to keep on disk, the active one included (min 1). Default 3. */
  keep?: number;
  instrumentation?: ReloadInstrumentation;
  /** Default: the root directory's base name. */
  target?: string;
  trigger?: ReloadTrigger;
  timeoutMs?: number;
  /** Per-file cap while hashing. Default 100 MiB. */
  maxFileBytes?: number;
  verify?: BundleVerifyOptions;
  /** Where `prune_failed` and `serial_state_failed` go. Default: the OpenTelemetry diag logger. */
  onDiagnostic?: DiagnosticSink;
  /** Receives `hotreload.bundle.prune_failures`. Default: the global meter provider. */
  meterProvider?: MeterProvider;
}

export interface VerifyBundleOptions {
  verify?: BundleVerifyOptions;
  maxFileBytes?: number;
}

export interface WriteReleaseOptions {
  /** Written into the manifest, under the signature. */
  serial?: number;
  /** Ed25519 private key: writes `manifest.json.sig`. */
  privateKey?: string | Buffer | KeyObject;
}

/** Verification settings, checked once per call (TypeErrors name the option). */
interface Checks {
  key: KeyObject | undefined;
  serial: { stateFile?: string } | undefined;
  maxFileBytes: number | undefined;
}

function checksFor(verify: BundleVerifyOptions | undefined, maxFileBytes: number | undefined, fn: string): Checks {
  if (verify !== undefined && (typeof verify !== 'object' || verify === null)) throw new TypeError(`${fn}: options.verify must be an object`);
  const key = verify?.publicKey === undefined ? undefined : toPublicKey(verify.publicKey);
  return { key, serial: checkBundleSerialOption(verify?.serial, `${fn}: options.verify.serial`, key !== undefined), maxFileBytes };
}

/**
 * Check a bundle's rollback-protection option (`true` or `{ stateFile? }`), named `option` in the
 * TypeError, for a caller that verifies releases later (the cluster supervisor checks it at start).
 * `signed`: whether a public key is configured, without which a serial can be forged.
 */
export function checkBundleSerialOption(value: unknown, option: string, signed: boolean): { stateFile?: string } | undefined {
  const checked = serialOptions(value, option, signed);
  if (!checked) return undefined;
  return checked.stateFile === undefined ? {} : { stateFile: checked.stateFile };
}

let sharedInstrumentation: ReloadInstrumentation | undefined;

/** One instrumentation for all calls without one, so generations and `unchanged` span calls. */
function defaultInstrumentation(): ReloadInstrumentation {
  if (!sharedInstrumentation) sharedInstrumentation = new ReloadInstrumentation();
  return sharedInstrumentation;
}

/** Check a version name: it becomes a path segment, so it must not be able to escape `releases/`. */
function checkVersion(version: string): void {
  if (typeof version !== 'string' || !VERSION_NAME.test(version) || version === '.' || version === '..') {
    throw new TypeError(`bundle version must match ${VERSION_NAME}, got ${JSON.stringify(version)}`);
  }
}

async function parseManifest(bytes: Buffer, signal: AbortSignal | undefined): Promise<BundleManifest> {
  let value: unknown;
  try {
    // The config parser: depth-capped, and off the main thread (stopped by the deadline) when large.
    value = await parseBuiltin(bytes, 'json', { signal });
  } catch (err) {
    if (!(err instanceof ConfigError) || (err.code !== 'parse_error' && err.code !== 'empty')) throw err;
    throw new ConfigError('bundle_invalid', `bundle manifest is not valid JSON (${err.message})`, { cause: err, stage: 'load' });
  }
  const { files, serial } = (value ?? {}) as { files?: unknown; serial?: unknown };
  if (typeof files !== 'object' || files === null || Array.isArray(files)) {
    throw new ConfigError('bundle_invalid', 'bundle manifest has no "files" object', { stage: 'load' });
  }
  if (serial !== undefined && !isSerial(serial)) {
    throw new ConfigError('bundle_invalid', 'bundle manifest "serial" is not a non-negative integer', { stage: 'load' });
  }
  for (const [path, hash] of Object.entries(files)) {
    if (!isReleasePath(path, RESERVED)) {
      throw new ConfigError('bundle_invalid', 'bundle manifest names a path that is not a plain path inside the bundle', { stage: 'load' });
    }
    if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) {
      throw new ConfigError('bundle_invalid', 'bundle manifest holds a malformed sha256', { stage: 'load' });
    }
  }
  return serial === undefined ? { files: files as Record<string, string> } : { serial, files: files as Record<string, string> };
}

/** Read a release's manifest (the load stage): its hash is the bundle identity, `bytes` what a signature covers. */
export async function readBundleManifest(root: string, version: string, signal?: AbortSignal): Promise<{ manifest: BundleManifest; hash: string; dir: string; bytes: Buffer }> {
  checkVersion(version);
  const dir = join(root, RELEASES, version);
  let read: Awaited<ReturnType<typeof readCapped>>;
  try {
    read = await readCapped(join(dir, MANIFEST), 16 * 1024 * 1024);
  } catch (err) {
    if (err instanceof ConfigError && err.code === 'not_found') {
      throw new ConfigError('bundle_invalid', `release ${version} has no ${MANIFEST} (incomplete or missing)`, { cause: err, stage: 'load' });
    }
    throw err;
  }
  return { manifest: await parseManifest(read.bytes, signal), hash: read.hash, dir, bytes: read.bytes };
}

/**
 * Check that the release is self-contained and that every file matches the manifest (the verify
 * stage): see checkReleaseTree for what "self-contained" refuses.
 */
export async function verifyBundleFiles(
  dir: string,
  manifest: BundleManifest,
  maxFileBytes = 100 * 1024 * 1024,
  signal?: AbortSignal,
): Promise<{ files: number; size: number }> {
  let size = 0;
  const entries = Object.entries(manifest.files);
  const real = await checkReleaseTree(dir, Object.keys(manifest.files), RESERVED);
  for (const [path, expected] of entries) {
    let actual: Awaited<ReturnType<typeof hashFile>>;
    try {
      // Only the digest matters here: stream it, never hold a (possibly large) release file.
      // The real path: the file inside the release that checkReleaseTree found, not a path to re-resolve.
      actual = await hashFile(real.get(path) ?? join(dir, path), { maxBytes: maxFileBytes, signal });
    } catch (err) {
      if (err instanceof ConfigError && err.code === 'not_found') {
        throw new ConfigError('bundle_invalid', `bundle file listed in the manifest is missing`, { cause: err, stage: 'verify' });
      }
      throw err;
    }
    if (actual.hash !== expected) {
      throw new ConfigError('checksum_mismatch', `bundle file sha256 ${actual.hash} does not match the manifest's ${expected}`, { stage: 'verify' });
    }
    size += actual.size;
  }
  return { files: entries.length, size };
}

/**
 * Load and fully verify a release without activating it (signature and rollback checks included
 * when `options.verify` asks for them): what an activation would check. Also an audit of the
 * active release: `verifyBundle(root, await activeBundleVersion(root))`.
 */
export async function verifyBundle(root: string, version: string, options: VerifyBundleOptions = {}): Promise<VerifiedBundle> {
  const checks = checksFor(options.verify, options.maxFileBytes, 'verifyBundle');
  const candidate = await readBundleManifest(root, version);
  const { files, size } = await verifyRelease(root, { version, ...candidate }, checks);
  const verified: VerifiedBundle = { version, dir: candidate.dir, hash: candidate.hash, files, size };
  if (candidate.manifest.serial !== undefined) verified.serial = candidate.manifest.serial;
  return verified;
}

/**
 * Record a release that went live as accepted for rollback protection, as `activateBundle` does
 * after its switch: for a deployer that switches by other means (the cluster supervisor, once its
 * new generation serves). Raises this process's floor for `root`, then the state file. Call it only
 * for a release verified with a publicKey and `verify.serial`; one without a serial is a no-op.
 * Never rejects: a failed state write is the `serial_state_failed` diagnostic.
 */
export async function acceptBundleRelease(root: string, verified: VerifiedBundle, options: AcceptBundleReleaseOptions = {}): Promise<void> {
  if (verified.serial === undefined) return;
  const mark = { serial: verified.serial, hash: verified.hash };
  // Only a throwing onDiagnostic sink can reject here; the floor is raised by then.
  await recordAccepted(root, mark, options.stateFile, diagnosticSink(options.onDiagnostic), options.target ?? basename(root)).catch(() => {});
}

/** Signature, then rollback, then the files: cheap authenticity checks before hashing gigabytes. */
async function verifyRelease(root: string, c: BundleCandidate, checks: Checks, signal?: AbortSignal): Promise<{ files: number; size: number; mark?: SerialMark }> {
  if (checks.key) await checkSignature(c.bytes, join(c.dir, MANIFEST_SIGNATURE), checks.key, 'bundle manifest');
  let mark: SerialMark | undefined;
  if (checks.serial && checks.key) {
    if (c.manifest.serial === undefined) throw new ConfigError('bundle_invalid', 'bundle manifest has no "serial" (rollback protection is on)', { stage: 'verify' });
    mark = { serial: c.manifest.serial, hash: c.hash };
    refuseRollback(mark, await acceptedMark(root, checks.key, checks.serial), 'bundle');
  }
  return { ...(await verifyBundleFiles(c.dir, c.manifest, checks.maxFileBytes, signal)), mark };
}

/** Highest serial accepted per bundle root by this process (a long-running deployer). */
const acceptedInProcess = new Map<string, SerialMark>();

/**
 * The floor a new release must not go below: what this process accepted, what the state file
 * holds, and the active release's own signed serial (so a one-shot deploy script is protected
 * without any state). An active release that no longer verifies contributes nothing.
 */
async function acceptedMark(root: string, key: KeyObject, serial: { stateFile?: string }): Promise<SerialMark | undefined> {
  let floor = acceptedInProcess.get(resolve(root));
  if (serial.stateFile) floor = higherMark(floor, await readSerialState(serial.stateFile));
  try {
    const version = await activeBundleVersion(root);
    if (version === undefined) return floor;
    const active = await readBundleManifest(root, version);
    await checkSignature(active.bytes, join(active.dir, MANIFEST_SIGNATURE), key, 'bundle manifest');
    if (active.manifest.serial !== undefined) floor = higherMark(floor, { serial: active.manifest.serial, hash: active.hash });
  } catch {
    // Not signed, not readable, or not a release name: only the other marks count.
  }
  return floor;
}

async function recordAccepted(root: string, mark: SerialMark, stateFile: string | undefined, report: DiagnosticSink, target: string): Promise<void> {
  const key = resolve(root);
  acceptedInProcess.set(key, higherMark(acceptedInProcess.get(key), mark) ?? mark);
  if (!stateFile) return;
  try {
    await writeSerialState(stateFile, mark);
  } catch (err) {
    report({
      code: 'serial_state_failed',
      message: `${target}: could not record serial ${mark.serial} in the state file (${(err as { code?: string }).code ?? 'error'})`,
    });
  }
}

/** The version `current` points at, or undefined when nothing was activated yet. */
export async function activeBundleVersion(root: string): Promise<string | undefined> {
  let link: string;
  try {
    link = await readlink(join(root, CURRENT));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(err, 'current symlink', 'load');
  }
  return basename(link);
}

/** Point `current` at a release: a fresh symlink renamed over the old one (atomic). */
async function pointCurrentAt(root: string, version: string): Promise<void> {
  const tmp = join(root, `${TMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
  await symlink(join(RELEASES, version), tmp);
  try {
    await rename(tmp, join(root, CURRENT));
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  // Durability across power loss (SIGKILL needs nothing: the rename is already visible).
  await fsyncDir(root).catch(() => {});
}

/** Symlinks left by a process killed between symlink() and rename(). */
async function removeStaleTemps(root: string): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (name.startsWith(TMP_PREFIX)) await unlink(join(root, name)).catch(() => {});
  }
}

const errnoOf = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';

/**
 * Remove releases beyond `keep`, most recently activated first (activation touches the release
 * directory's mtime). Never removes the active version or the one it replaced. Only releases
 * count: directories (not symlinks) with a version name; a `.gitkeep` or a README is left alone.
 * Never throws: it runs after the switch, and a failed cleanup must not undo a verified switch,
 * so each failure is returned for reporting and the other releases are still pruned.
 */
async function pruneReleases(root: string, keep: number, protect: ReadonlySet<string>): Promise<{ removed: string[]; failed: PruneFailure[] }> {
  const releasesDir = join(root, RELEASES);
  const removed: string[] = [];
  const failed: PruneFailure[] = [];
  let entries: Dirent[];
  try {
    entries = await readdir(releasesDir, { withFileTypes: true });
  } catch (err) {
    failed.push({ name: RELEASES, errno: errnoOf(err) });
    return { removed, failed };
  }
  const releases = entries.filter((e) => e.isDirectory() && VERSION_NAME.test(e.name));
  const dated = await Promise.all(
    releases.map(async ({ name }) => ({ name, mtime: (await lstat(join(releasesDir, name)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  dated.sort((a, b) => b.mtime - a.mtime);
  let kept = 0;
  for (const { name } of dated) {
    if (protect.has(name) || kept < keep) {
      kept += 1;
      continue;
    }
    try {
      // Make the release unverifiable first, so a half-removed directory can never be activated.
      await rm(join(releasesDir, name, MANIFEST), { force: true });
      await rm(join(releasesDir, name), { recursive: true, force: true });
      removed.push(name);
    } catch (err) {
      failed.push({ name, errno: errnoOf(err) });
    }
  }
  return { removed, failed };
}

interface BundleCandidate {
  version: string;
  hash: string;
  dir: string;
  manifest: BundleManifest;
  bytes: Buffer;
}

/**
 * Verify `releases/<version>` against its manifest and switch `current` to it atomically, as one
 * reloadscope run (load = the root's activation lock, then the manifest; verify = signature,
 * serial, containment and every file's sha256; switch = symlink + rename(2); unload = record the
 * serial and prune beyond `keep`; rollback = point `current` back). Never throws for a failed
 * activation: the result's outcome says what happened, and it is always the outcome of this
 * call's own release. Throws TypeError for invalid options.
 *
 * The run holds the root's activation lock from its load stage to its end (bundle-lock.ts): no
 * other activation, in this process or another, moves `current` or raises the floor between
 * this run's checks and its switch.
 */
export function activateBundle(options: ActivateBundleOptions): Promise<ReloadResult> {
  const { root, version, keep, target } = checkActivateOptions(options);
  checkVersion(version);
  const checks = checksFor(options.verify, options.maxFileBytes, 'activateBundle');
  const reloads = options.instrumentation ?? defaultInstrumentation();
  declarePruneFailures(reloads, target, options.meterProvider);
  const timeoutMs = options.timeoutMs ?? reloads.getConfig?.().defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const report = diagnosticSink(options.onDiagnostic);
  const activation = new Activation({ root, version, keep, target, checks, timeoutMs, report, meterProvider: options.meterProvider });
  // coalesce: false: a request for this exact release waits its turn and is never answered with
  // another request's run. Bad options still throw here, synchronously.
  return reloads
    .reload({ target, trigger: options.trigger ?? 'api', timeoutMs, coalesce: false }, activation.stages)
    .then(
      (result) => activation.finish().then(() => result),
      (err: unknown) => activation.finish().then(() => Promise.reject(err)),
    );
}

interface ActivationSettings {
  root: string;
  version: string;
  keep: number;
  target: string;
  checks: Checks;
  timeoutMs: number;
  report: DiagnosticSink;
  meterProvider: MeterProvider | undefined;
}

/** One activation: its stages, the lock they hold, and every stage call still running. */
class Activation {
  readonly stages: ReloadStages<BundleCandidate, string | undefined>;
  readonly #s: ActivationSettings;
  #lock: HeldLock | undefined;
  /** Stage calls not settled yet: one the deadline abandoned, a switch completing late, its rollback. */
  readonly #inFlight = new Set<Promise<unknown>>();
  #inPlace = false;
  #previous: string | undefined;
  #accepted: SerialMark | undefined;

  constructor(settings: ActivationSettings) {
    this.#s = settings;
    const track =
      <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
      (...args: A): Promise<R> => {
        const p = fn(...args);
        this.#inFlight.add(p);
        const forget = () => this.#inFlight.delete(p);
        p.then(forget, forget);
        return p;
      };
    this.stages = {
      load: track((ctx) => this.#load(ctx)),
      // `unchanged` means "the active version already": core calls a run that when the candidate
      // hashes like what this process activated last. If `current` was moved since (by hand, by
      // another deployer), this release is not active whatever the process remembers, so the run
      // offers no identity to compare (its candidate was named in load) and really switches.
      identify: (c) => (this.#inPlace ? { hash: c.hash, version: c.version } : undefined),
      verify: track((c, ctx) => this.#verify(c, ctx)),
      switch: track((c) => this.#switch(c)),
      rollback: track(() => this.#rollback()),
      unload: track((prev, ctx) => this.#unload(prev, ctx)),
    };
  }

  async #load(ctx: StageContext): Promise<BundleCandidate> {
    const { root, version, timeoutMs } = this.#s;
    // Waiting for the lock is part of the run (its span, its deadline). Giving up a little before
    // the deadline lets the outcome name the holder (`bundle_locked`) rather than a bare timeout.
    const giveUpAt = Date.now() + timeoutMs - Math.min(1000, Math.floor(timeoutMs / 10));
    this.#lock = await lockBundleRoot(root, giveUpAt, ctx.signal);
    // Under the lock, a `.current-*` temp can only be a killed activation's leftover.
    await removeStaleTemps(root);
    const candidate = { version, ...(await readBundleManifest(root, version, ctx.signal)) };
    ctx.candidate({ hash: candidate.hash, version });
    // Read under the lock: nobody moves `current` between this check and the switch.
    this.#inPlace = (await activeBundleVersion(root).catch(() => undefined)) === version;
    return candidate;
  }

  async #verify(c: BundleCandidate, ctx: StageContext): Promise<void> {
    this.#accepted = (await verifyRelease(this.#s.root, c, this.#s.checks, ctx.signal)).mark;
  }

  async #switch(c: BundleCandidate): Promise<string | undefined> {
    const { root, checks } = this.#s;
    // Only a holder judged dead (frozen past the stale rules) loses its lock: someone else may be
    // switching now, and this activation must not.
    if (!(await this.#lock?.held())) {
      throw new ConfigError('bundle_locked', 'the activation lock was broken while this activation held it; not switching', { stage: 'switch' });
    }
    // The floor once more, at the moment of the swap: `current` never goes below it.
    if (this.#accepted && checks.key && checks.serial) refuseRollback(this.#accepted, await acceptedMark(root, checks.key, checks.serial), 'bundle');
    this.#previous = await activeBundleVersion(root);
    const now = new Date();
    await utimes(c.dir, now, now);
    await pointCurrentAt(root, c.version);
    return this.#previous;
  }

  async #rollback(): Promise<void> {
    const { root, version } = this.#s;
    if (this.#previous !== undefined && (await activeBundleVersion(root)) === version) await pointCurrentAt(root, this.#previous);
  }

  async #unload(prev: string | undefined, ctx: StageContext): Promise<void> {
    const { root, version, checks, keep, target, report, meterProvider } = this.#s;
    // The switch stands from here on: nothing below may fail the run (that would roll it back).
    if (this.#accepted) await recordAccepted(root, this.#accepted, checks.serial?.stateFile, report, target);
    const protect = new Set([version]);
    if (prev !== undefined) protect.add(prev);
    const { failed } = await pruneReleases(root, keep, protect);
    for (const failure of failed) reportPruneFailure(failure, target, ctx.span, report, meterProvider);
  }

  /**
   * The run has its result. The lock is released now, or, while a stage call still runs (it may
   * still touch the root), once every one has settled, without making the caller wait for it.
   */
  async finish(): Promise<void> {
    if (this.#inFlight.size === 0) return this.#release();
    void this.#settled().then(() => this.#release());
  }

  async #settled(): Promise<void> {
    while (this.#inFlight.size > 0) {
      await Promise.allSettled([...this.#inFlight]);
      // A late switch's rollback starts when the switch settles: let it join the set first.
      await new Promise((r) => setImmediate(r));
    }
  }

  #release(): Promise<void> {
    const lock = this.#lock;
    this.#lock = undefined;
    return lock ? lock.release() : Promise.resolve();
  }
}

function toPrivateKey(key: string | Buffer | KeyObject): KeyObject {
  const object = typeof key === 'string' || Buffer.isBuffer(key) ? createPrivateKey(key) : key;
  if (object.type !== 'private' || object.asymmetricKeyType !== 'ed25519') throw new TypeError('writeRelease: options.privateKey must be an Ed25519 private key');
  return object;
}

/**
 * Write a release directory and its manifest (a helper for build/deploy scripts and tests).
 * Every file and directory is fsynced before the manifest is renamed in, and the manifest before
 * the function returns: after a power loss a release either has no manifest (incomplete, never
 * activated) or has all of its files (and its signature, written before the manifest).
 * Paths must be plain relative paths (see isReleasePath): anything else is a TypeError.
 */
export async function writeRelease(root: string, version: string, files: Record<string, string | Uint8Array>, options: WriteReleaseOptions = {}): Promise<string> {
  checkVersion(version);
  for (const path of Object.keys(files)) {
    if (!isReleasePath(path, [...RESERVED, TMP_MANIFEST])) throw new TypeError(`writeRelease: ${JSON.stringify(path)} is not a plain relative path inside the release`);
  }
  if (options.serial !== undefined && !isSerial(options.serial)) throw new TypeError('writeRelease: options.serial must be a non-negative integer');
  const key = options.privateKey === undefined ? undefined : toPrivateKey(options.privateKey);
  const dir = join(root, RELEASES, version);
  const tmp = join(dir, TMP_MANIFEST);
  const digests: Array<[string, string]> = [];
  const dirs = new Set<string>([dir]);
  for (const [path, content] of Object.entries(files)) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeDurably(file, content);
    for (let d = dirname(file); d.startsWith(dir); d = dirname(d)) dirs.add(d);
    digests.push([path, sha256Hex(content)]);
  }
  for (const d of dirs) await fsyncDir(d);
  // fromEntries, not `files[path] = …`: a file named `__proto__` must become a key, not a prototype.
  const listed = Object.fromEntries(digests);
  const manifest: BundleManifest = options.serial === undefined ? { files: listed } : { serial: options.serial, files: listed };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2));
  if (key) await writeDurably(join(dir, MANIFEST_SIGNATURE), sign(null, bytes, key));
  // The manifest goes last: a release without one is incomplete by definition.
  await writeDurably(tmp, bytes);
  await rename(tmp, join(dir, MANIFEST));
  await fsyncDir(dir);
  await fsyncDir(join(root, RELEASES));
  return dir;
}

