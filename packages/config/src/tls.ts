import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSecureContext, Server } from 'node:tls';
import {
  ATTR_TLS_FINGERPRINT256,
  ATTR_TLS_ISSUER,
  ATTR_TLS_NOT_AFTER,
  ATTR_TLS_NOT_BEFORE,
  ATTR_TLS_SERIAL,
  ATTR_TLS_SUBJECT,
  isReloadError,
  ReloadInstrumentation,
  type ReloadResult,
  type ReloadStages,
  type StageContext,
  type TargetClaim,
  type VersionIdentity,
} from '@reloadscope/core';
import { reportRejection } from './diagnostics.ts';
import { ConfigError } from './errors.ts';
import type { ReloadListener } from './http-trigger.ts';
import { Options } from './options.ts';
import { readCapped } from './read.ts';
import { type Credential, rotatedContext } from './server-context.ts';
import { checkTriggerOptions, ReloadTriggers, startOrClose, type TriggerOptions, type TriggerSettings } from './triggers.ts';
import { checkReloadRequest, type ReloadRequest } from './watch-config.ts';

/** Certificate files are small: a chain of a few certificates is a few KiB. */
export const DEFAULT_TLS_MAX_BYTES = 1024 * 1024;
/** How long to wait for the other half of a pair when cert and key do not match yet. */
export const DEFAULT_SETTLE_MS = 250;
const SETTLE_ATTEMPTS = 4;

/**
 * A server whose certificate can be swapped in place: a `tls.Server`, and so an `https.Server` or
 * an `http2` secure server. Only a Node TLS server will do: its other TLS settings are read from it
 * so that a rotation keeps them.
 */
export type SecureContextHolder = Server;

/** The identity of a certificate: what operators compare, never key material. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** Uppercase hex, as Node's X509Certificate gives it. */
  serialNumber: string;
  validFrom: Date;
  validTo: Date;
  /** SHA-256 fingerprint, colon-separated uppercase hex. */
  fingerprint256: string;
}

/** `watch`, `signal`, `http` and `onDiagnostic` are watchConfig's trigger options, with the same defaults. */
export interface WatchTlsOptions extends TriggerOptions {
  server: SecureContextHolder;
  /** PEM: the leaf certificate first, then the chain. */
  cert: string;
  /** PEM private key of the leaf. */
  key: string;
  /** Optional PEM CA bundle the chain must verify to. Only checked against: the server's trust store is not touched. */
  ca?: string;
  /**
   * Optional PEM CA bundle for client certificates (mTLS), which watchTls then manages: it becomes
   * the server's `ca` and is rotated with the pair. Without it, the server keeps its own `ca`.
   */
  clientCa?: string;
  /** `hotreload.target`. Default `tls`. */
  target?: string;
  /** Refuse a certificate that is valid for less than this from now. Default 0. */
  minValidityMs?: number;
  /** Default: a new ReloadInstrumentation (which uses the global providers). */
  instrumentation?: ReloadInstrumentation;
  /** Deadline per reload. Default: the instrumentation's default (30 s). */
  timeoutMs?: number;
  /** Cap per file (cert, key, ca). Default 1 MiB. */
  maxBytes?: number;
}

export interface TlsWatcher {
  /** The certificate new handshakes get. */
  readonly current: CertificateInfo;
  readonly target: string;
  /** The standalone HTTP listener, when `http` was given. */
  readonly http: ReloadListener | undefined;
  /** Never throws for a failed reload: the result's outcome says what happened. */
  reload(request?: ReloadRequest): Promise<ReloadResult>;
  close(): Promise<void>;
}

interface Candidate {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
  clientCa: Buffer | undefined;
  hash: string;
  size: number;
  /** Parsed in load when it parses (for the identity); verify parses authoritatively. */
  leaf: X509Certificate | undefined;
}

interface Version {
  credential: Credential;
  info: CertificateInfo;
}

/**
 * Serve a certificate from files and swap it in place when the files change: a Kubernetes Secret
 * mount's `..data` swap, an ACME client's rewrite, SIGHUP, or the HTTP trigger. A candidate is
 * refused (and the current one keeps being served) unless it parses, its key matches, it is valid
 * now for at least `minValidityMs`, and, with `ca`, its chain verifies to the CA. A rotation
 * changes the certificate and key (and the client CA, with `clientCa`) and keeps every other TLS
 * setting of the server. Rejects when the first load fails: a server should not start without a
 * usable certificate.
 */
export async function watchTls(options: WatchTlsOptions): Promise<TlsWatcher> {
  // Checked before any await: a SIGHUP that arrives with no listener kills the process.
  const settings = checkTlsOptions(options);
  return startOrClose(new TlsWatcherImpl(options.server, settings));
}

interface TlsSettings extends TriggerSettings {
  target: string;
  files: { cert: string; key: string; ca: string | undefined; clientCa: string | undefined };
  maxBytes: number;
  minValidityMs: number;
  timeoutMs: number | undefined;
  instrumentation: ReloadInstrumentation;
}

const PATH_RULE = { pattern: /^[^\0]*$/, patternText: 'without NUL bytes' };

function checkTlsOptions(options: WatchTlsOptions): TlsSettings {
  const o = Options.of('watchTls', options);
  // A Node TLS server, not anything with setSecureContext(): its other settings are read from it.
  if (!(o.get('server') instanceof Server)) o.fail('server', 'a tls.Server, https.Server or http2 secure server', o.get('server'));
  const cert = o.required('cert', o.string('cert', PATH_RULE), 'a non-empty path');
  const key = o.required('key', o.string('key', PATH_RULE), 'a non-empty path');
  const ca = o.string('ca', PATH_RULE);
  const clientCa = o.string('clientCa', PATH_RULE);
  const optional = (path: string | undefined) => (path === undefined ? undefined : resolve(path));
  return {
    ...checkTriggerOptions(o),
    target: o.string('target', { maxLength: 128 }) ?? 'tls',
    files: { cert: resolve(cert), key: resolve(key), ca: optional(ca), clientCa: optional(clientCa) },
    maxBytes: o.integer('maxBytes', 1) ?? DEFAULT_TLS_MAX_BYTES,
    minValidityMs: o.number('minValidityMs', { min: 0 }) ?? 0,
    timeoutMs: o.duration('timeoutMs'),
    instrumentation: o.withMethods<ReloadInstrumentation>('instrumentation', ['reload', 'declareTarget', 'claimTarget']) ?? new ReloadInstrumentation(),
  };
}

class TlsWatcherImpl implements TlsWatcher {
  readonly #server: Server;
  readonly #settings: TlsSettings;
  readonly #triggers: ReloadTriggers;
  readonly #stages: ReloadStages<Candidate, Version | undefined> = {
    load: (ctx) => this.#load(ctx),
    identify: (c) => identify(c),
    verify: (c, ctx) => this.#verify(c, ctx),
    switch: (c) => this.#switchTo(c),
    rollback: (previous) => this.#rollback(previous),
    unload: (previous) => this.#unload(previous),
  };
  /** What verify built for the candidate of the running reload (runs are serialised per target). */
  #verified: Version | undefined;
  #active: Version | undefined;
  #latest: Promise<ReloadResult> | undefined;
  #claim: TargetClaim | undefined;
  #closed = false;

  constructor(server: Server, settings: TlsSettings) {
    this.#server = server;
    this.#settings = settings;
    this.#triggers = new ReloadTriggers(this, settings);
    this.#triggers.listenForSignal();
  }

  get current(): CertificateInfo {
    if (!this.#active) throw new Error('@reloadscope/config: no certificate is active yet');
    return { ...this.#active.info };
  }
  get target(): string {
    return this.#settings.target;
  }
  get http(): ReloadListener | undefined {
    return this.#triggers.http;
  }

  async start(): Promise<void> {
    const s = this.#settings;
    // Two watchers on one target would share its state (the default target is the same for all).
    this.#claim = s.instrumentation.claimTarget(s.target, `watchTls(${s.files.cert})`);
    s.instrumentation.declareTarget(s.target, this.#triggers.triggers());
    // force: a reused instrumentation may already hold this hash from an earlier watcher.
    const result = await this.reload({ trigger: 'startup', force: true });
    if (result.outcome !== 'success' || !this.#active) {
      const cause = result.error?.cause;
      if (isReloadError(cause) && cause instanceof ConfigError) throw cause;
      throw new ConfigError('read_error', `initial certificate load ended with ${result.outcome}${result.error ? ` (${result.error.code})` : ''}`, {
        cause: cause ?? result.error,
      });
    }
    await this.#triggers.ready(Object.values(s.files).filter((f) => f !== undefined));
  }

  reload(request: ReloadRequest = {}): Promise<ReloadResult> {
    if (this.#closed) return Promise.reject(new Error('@reloadscope/config: reload() after close()'));
    try {
      checkReloadRequest(request);
    } catch (err) {
      return Promise.reject(err);
    }
    const s = this.#settings;
    const p = s.instrumentation
      .reload({ target: s.target, trigger: request.trigger ?? 'api', force: request.force, timeoutMs: request.timeoutMs ?? s.timeoutMs }, this.#stages)
      .then((result) => {
        reportRejection(s.report, result);
        return result;
      });
    this.#latest = p;
    return p;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#triggers.close();
    await this.#latest?.catch(() => {});
    this.#claim?.release();
  }

  async #readAll(signal: AbortSignal): Promise<Candidate> {
    const { cert, key, ca, clientCa } = this.#settings.files;
    const max = this.#settings.maxBytes;
    const optional = (path: string | undefined) => (path === undefined ? undefined : readCapped(path, max, signal));
    const [c, k, a, client] = await Promise.all([readCapped(cert, max, signal), readCapped(key, max, signal), optional(ca), optional(clientCa)]);
    // The key enters the identity only as a digest: no key byte reaches telemetry.
    const digest = createHash('sha256');
    for (const part of [c, k, a, client]) digest.update(part?.hash ?? '').update('\0');
    return {
      cert: c.bytes,
      key: k.bytes,
      ca: a?.bytes,
      clientCa: client?.bytes,
      hash: digest.digest('hex'),
      size: c.size + k.size + (a?.size ?? 0) + (client?.size ?? 0),
      leaf: parseLeaf(c.bytes),
    };
  }

  /**
   * Cert and key are two files, and renewals write them one after the other: a read between the
   * two writes sees a new certificate with the old key. While the pair does not match and the
   * files are still changing, wait and read again; a pair that stays mismatched is verify's to refuse.
   */
  async #load(ctx: StageContext): Promise<Candidate> {
    let candidate = await this.#readAll(ctx.signal);
    for (let attempt = 1; attempt < SETTLE_ATTEMPTS && !pairMatches(candidate); attempt++) {
      await sleep(DEFAULT_SETTLE_MS, undefined, { signal: ctx.signal });
      const again = await this.#readAll(ctx.signal);
      const moved = again.hash !== candidate.hash;
      candidate = again;
      if (!moved) break;
    }
    return candidate;
  }

  #verify(c: Candidate, ctx: StageContext): void {
    const chain = parseChain(c.cert);
    const leaf = chain[0]!;
    const info = certificateInfo(leaf);
    ctx.span.setAttributes({
      [ATTR_TLS_SUBJECT]: info.subject,
      [ATTR_TLS_ISSUER]: info.issuer,
      [ATTR_TLS_SERIAL]: info.serialNumber,
      [ATTR_TLS_FINGERPRINT256]: info.fingerprint256,
      [ATTR_TLS_NOT_BEFORE]: info.validFrom.toISOString(),
      [ATTR_TLS_NOT_AFTER]: info.validTo.toISOString(),
    });
    let key: KeyObject;
    try {
      key = createPrivateKey(c.key);
    } catch (cause) {
      throw new ConfigError('tls_key_invalid', 'the private key file does not hold a PEM private key', { cause, stage: 'verify' });
    }
    if (key.type !== 'private' || !leaf.checkPrivateKey(key)) {
      throw new ConfigError('tls_key_mismatch', 'the private key does not belong to the certificate', { stage: 'verify' });
    }
    checkValidity(info, this.#settings.minValidityMs);
    let ca: X509Certificate[] | undefined;
    if (c.ca !== undefined) {
      ca = parseChain(c.ca, 'CA bundle');
      checkChain(chain, ca);
    }
    if (c.clientCa !== undefined) parseChain(c.clientCa, 'client CA bundle');
    const credential: Credential = { cert: c.cert, key: c.key, ...(c.clientCa === undefined ? {} : { clientCa: c.clientCa }) };
    try {
      // What setSecureContext() will do in switch, with the server's own settings, done here so
      // that a candidate OpenSSL refuses fails verify, while nothing has changed yet.
      createSecureContext(rotatedContext(this.#server, credential));
    } catch (cause) {
      throw new ConfigError('tls_cert_invalid', 'OpenSSL refused the certificate and key with the server\'s TLS settings', { cause, stage: 'verify' });
    }
    this.#verified = { credential, info };
  }

  #switchTo(c: Candidate): Version | undefined {
    const next = this.#verified;
    this.#verified = undefined;
    if (!next || next.credential.key !== c.key) throw new ConfigError('tls_cert_invalid', 'switch without a verified certificate', { stage: 'switch' });
    const previous = this.#active;
    // New handshakes get the new context; established connections keep the one they negotiated.
    this.#server.setSecureContext(rotatedContext(this.#server, next.credential));
    this.#active = next;
    return previous;
  }

  #rollback(previous: Version | undefined): void {
    if (!previous) return;
    this.#server.setSecureContext(rotatedContext(this.#server, previous.credential));
    this.#active = previous;
  }

  #unload(previous: Version | undefined): void {
    // The server holds its own copy inside OpenSSL: these bytes are ours to wipe.
    previous?.credential.key.fill(0);
  }
}

function identify(c: Candidate): VersionIdentity {
  const leaf = c.leaf;
  if (!leaf) return { hash: c.hash, size: c.size };
  return { hash: c.hash, size: c.size, version: leaf.serialNumber, notAfter: validTo(leaf).getTime() };
}

function parseLeaf(bytes: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(bytes);
  } catch {
    return undefined;
  }
}

function pairMatches(c: Candidate): boolean {
  if (!c.leaf) return false;
  try {
    return c.leaf.checkPrivateKey(createPrivateKey(c.key));
  } catch {
    return false;
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM file, in order; a file with none, or one that does not parse, is refused. */
function parseChain(bytes: Buffer, what = 'certificate file'): X509Certificate[] {
  // latin1: PEM is ASCII, and a binary file must not be able to make decoding throw.
  const blocks = bytes.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new ConfigError('tls_cert_invalid', `the ${what} holds no complete PEM certificate`, { stage: 'verify' });
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (cause) {
      throw new ConfigError('tls_cert_invalid', `certificate ${i + 1} of the ${what} does not parse`, { cause, stage: 'verify' });
    }
  });
}

function validFrom(c: X509Certificate): Date {
  return c.validFromDate ?? new Date(c.validFrom);
}
function validTo(c: X509Certificate): Date {
  return c.validToDate ?? new Date(c.validTo);
}

function certificateInfo(c: X509Certificate): CertificateInfo {
  return {
    subject: c.subject,
    issuer: c.issuer,
    serialNumber: c.serialNumber,
    validFrom: validFrom(c),
    validTo: validTo(c),
    fingerprint256: c.fingerprint256,
  };
}

function checkValidity(info: CertificateInfo, minValidityMs: number): void {
  const now = Date.now();
  if (now < info.validFrom.getTime()) {
    throw new ConfigError('tls_not_yet_valid', `the certificate is not valid before ${info.validFrom.toISOString()}`, { stage: 'verify' });
  }
  if (now >= info.validTo.getTime()) {
    throw new ConfigError('tls_expired', `the certificate expired at ${info.validTo.toISOString()}`, { stage: 'verify' });
  }
  if (info.validTo.getTime() - now < minValidityMs) {
    throw new ConfigError('tls_validity_too_short', `the certificate expires at ${info.validTo.toISOString()}, sooner than minValidityMs allows`, {
      stage: 'verify',
    });
  }
}

/**
 * Each certificate must be signed by the next one, and the last by (or be) a certificate of the
 * CA bundle. Validity of the intermediates counts too: clients refuse an expired intermediate.
 */
function checkChain(chain: readonly X509Certificate[], ca: readonly X509Certificate[]): void {
  const untrusted = (why: string) => new ConfigError('tls_chain_untrusted', `the certificate chain does not verify to the CA bundle: ${why}`, { stage: 'verify' });
  const now = Date.now();
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i]!;
    if (i > 0 && (now < validFrom(cert).getTime() || now >= validTo(cert).getTime())) throw untrusted(`certificate ${i + 1} is outside its validity window`);
    if (ca.some((root) => root.fingerprint256 === cert.fingerprint256)) return;
    const issuer = chain[i + 1];
    if (issuer) {
      if (!signedBy(cert, issuer)) throw untrusted(`certificate ${i + 1} is not signed by certificate ${i + 2}`);
      continue;
    }
    if (ca.some((root) => signedBy(cert, root))) return;
    throw untrusted('no CA certificate signed the last certificate of the chain');
  }
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}
