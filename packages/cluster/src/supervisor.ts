import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { context, type MeterProvider, propagation, trace } from '@opentelemetry/api';
import { checkReloadSignal, listenForReloads, type ReloadListener, type ReloadListenerOptions } from '@reloadscope/config';
import { checkBoolean, checkPositiveInteger, MAX_TIMER_MS, ReloadInstrumentation, type ReloadResult, type ReloadStages, type StageContext, type TargetClaim } from '@reloadscope/core';
import { ClusterError } from './errors.ts';
import { type ClusterOptions, type ClusterSettings, checkClusterOptions } from './options.ts';
import { ClusterMetricsEndpoint, type ScrapeSource } from './metrics-endpoint.ts';
import { ENV_GENERATION, ENV_HEALTH, ENV_HOLD, ENV_METRICS, ENV_SLOT } from './protocol.ts';
import { acceptRelease, type Release, resolveRelease } from './release.ts';
import { commonAddresses, type ServiceSpec } from './service-address.ts';
import { ClusterTelemetry } from './telemetry.ts';
import { WorkerHandle, type WorkerState } from './workers.ts';
import { withheldEnv } from './worker-env.ts';

export interface SuperviseOptions extends ClusterOptions {
  /** Upgrade signal, default SIGUSR2 (SIGHUP stays with config reloads); false for none. */
  signal?: NodeJS.Signals | false;
  /** Also start the token-protected HTTP trigger of @reloadscope/config. */
  http?: ReloadListenerOptions;
  /**
   * Run `--import @reloadscope/register` in every worker, each on a private ephemeral loopback
   * Prometheus port, so the instance endpoint (`metrics`) can merge them. Default false.
   */
  workerTelemetry?: boolean;
  /**
   * Serve the instance's one scrape endpoint: `primaryUrl` (the supervisor's own register endpoint)
   * merged with every current worker's. The CLI sets it from OTEL_EXPORTER_PROMETHEUS_HOST/PORT.
   */
  metrics?: { host: string; port: number; primaryUrl?: string };
}

export interface ClusterSupervisor {
  readonly target: string;
  /** One upgrade run: a new generation from the release as it resolves now. Never rejects for a failed upgrade. */
  upgrade(options?: { trigger?: string }): Promise<ReloadResult>;
  /** The release the current generation runs. */
  readonly release: Readonly<Omit<Release, 'entry'>>;
  /** The service address every generation must listen on, learned from the first (`127.0.0.1:3000`, `[::]:3000`, `unix:<path>`). */
  readonly addresses: readonly string[];
  /** Live workers: pid, generation number, state. */
  workers(): Array<{ id: number; pid: number | undefined; generation: number; state: WorkerState }>;
  /** The HTTP trigger, when configured. */
  readonly http: ReloadListener | undefined;
  /** Send `signal` to every current worker (the CLI passes SIGHUP on this way); resolves how many got it. */
  signalWorkers(signal: NodeJS.Signals): number;
  /** URL of the merged scrape endpoint, when `metrics` is set and it could listen. */
  metricsUrl(): Promise<string | undefined>;
  /** Drain every worker (killed at the drain timeout) and stop. Idempotent. */
  close(): Promise<void>;
}

interface Generation {
  id: number;
  release: Release;
  execArgv: string[];
  workers: WorkerHandle[];
  /** Verified while another generation serves: its listeners take no connection before the switch. */
  held: boolean;
  /** The addresses it was verified to serve. */
  addresses: string[];
}

interface Switched {
  previous: Generation | undefined;
  drains: Array<Promise<{ killed: boolean; seconds: number }>>;
  /** The rollback floor raised to the new release (memory at once, the state file when this settles). */
  accepted: Promise<void>;
}

/** A crash replacement is not part of any upgrade's trace, whatever the supervisor's own env says. */
const NO_TRACE_PARENT = { TRACEPARENT: '', TRACESTATE: '' };
/** Slack on top of ready + stabilization + drain for the load stage (hashing a verified release). */
const LOAD_SLACK_MS = 30_000;
/** How long a refused generation may take to leave before it is killed. */
const DISCARD_MS = 2000;
/** How long a new worker may take to confirm the switch (a blocked event loop does not). */
const SERVE_ACK_MS = 2000;
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 10_000;
/** A worker that lived this long resets the crash backoff. */
const BACKOFF_RESET_MS = 30_000;

const BOOTSTRAP = new URL(import.meta.url.endsWith('.ts') ? './bootstrap.ts' : './bootstrap.js', import.meta.url).href;
/** The same copy the bootstrap's `import('@reloadscope/register/api')` resolves to. */
const REGISTER = import.meta.resolve('@reloadscope/register');
/** Worker telemetry endpoints are private: the primary merges them into the instance's scrape. */
const WORKER_TELEMETRY_ENV = { OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: '0', [ENV_METRICS]: '1' };

/**
 * The primary's own execArgv minus `--import`/`--require` of @reloadscope/register: inherited, it
 * would start a second SDK in every worker that fights the primary over the Prometheus port.
 */
function workerExecArgv(extra: string[], telemetry: boolean): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if ((arg === '--import' || arg === '--require' || arg === '-r') && argv[i + 1]?.includes('@reloadscope/register')) {
      i++;
      continue;
    }
    if (/^--(import|require)=.*@reloadscope\/register/.test(arg)) continue;
    out.push(arg);
  }
  return [...out, ...(telemetry ? ['--import', REGISTER] : []), '--import', BOOTSTRAP, ...extra];
}

class Supervisor implements ClusterSupervisor {
  readonly #s: ClusterSettings;
  readonly #instrumentation: ReloadInstrumentation;
  readonly #claim: TargetClaim;
  readonly #telemetry: ClusterTelemetry;
  readonly #live = new Set<WorkerHandle>();
  #current: Generation | undefined;
  /** Learned from the first generation; every later one must listen on all of it. */
  #service: string[] | undefined;
  #generations = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  #running = new Set<Promise<ReloadResult>>();
  #stopSignal: (() => void) | undefined;
  #http: ReloadListener | undefined;
  #crashes = 0;
  #workerTelemetry = false;
  #metrics: ClusterMetricsEndpoint | undefined;
  #lastCrash = 0;
  /** Values no worker may inherit (see worker-env.ts). */
  readonly #secrets: string[];
  readonly counts = { forcedKills: 0, restarts: 0, workersByState: () => this.#byState() };

  constructor(settings: ClusterSettings, instrumentation: ReloadInstrumentation, meterProvider: MeterProvider | undefined, secrets: string[]) {
    this.#s = settings;
    this.#secrets = secrets;
    this.#instrumentation = instrumentation;
    this.#claim = instrumentation.claimTarget(settings.target, `superviseCluster(${settings.entry})`);
    this.#telemetry = new ClusterTelemetry(settings.target, this.counts, meterProvider);
    instrumentation.declareTarget(settings.target, ['startup', 'api', 'signal', 'http']);
  }

  get target(): string {
    return this.#s.target;
  }

  get release(): Readonly<Omit<Release, 'entry'>> {
    const r = this.#current!.release;
    return { dir: r.dir, version: r.version, hash: r.hash };
  }

  get http(): ReloadListener | undefined {
    return this.#http;
  }

  get addresses(): readonly string[] {
    return [...(this.#service ?? [])];
  }

  signalWorkers(signal: NodeJS.Signals): number {
    let sent = 0;
    for (const w of this.#current?.workers ?? []) {
      if (!w.alive || w.state !== 'current') continue;
      try {
        if (w.worker.process.kill(signal)) sent += 1;
      } catch {
        // Gone between the check and the kill.
      }
    }
    return sent;
  }

  workers() {
    return [...this.#live].map((h) => ({ id: h.worker.id, pid: h.worker.process.pid, generation: h.generation, state: h.state }));
  }

  #byState(): Record<WorkerState, number> {
    const by = { starting: 0, current: 0, old: 0 };
    for (const h of this.#live) by[h.state] += 1;
    return by;
  }

  listenForSignal(signal: NodeJS.Signals | undefined): void {
    if (!signal) return;
    // Every signal is an upgrade request; core coalesces those that arrive during a run into one.
    const listener = () => void this.upgrade({ trigger: 'signal' });
    process.on(signal, listener);
    this.#stopSignal = () => process.off(signal, listener);
  }

  async listenForHttp(options: ReloadListenerOptions | undefined): Promise<void> {
    if (options) this.#http = await listenForReloads({ reload: ({ trigger }) => this.upgrade({ trigger }) }, options);
  }

  serveMetrics(workerTelemetry: boolean, metrics: SuperviseOptions['metrics']): void {
    this.#workerTelemetry = workerTelemetry;
    if (!metrics) return;
    const primary = metrics.primaryUrl;
    this.#metrics = new ClusterMetricsEndpoint(metrics.host, metrics.port, () => this.#scrapeSources(primary));
  }

  #scrapeSources(primaryUrl: string | undefined): ScrapeSource[] {
    const sources: ScrapeSource[] = primaryUrl ? [{ url: primaryUrl, slot: undefined }] : [];
    for (const w of this.#current?.workers ?? []) if (w.alive && w.state === 'current' && w.metricsUrl) sources.push({ url: w.metricsUrl, slot: w.slot });
    return sources;
  }

  metricsUrl(): Promise<string | undefined> {
    return this.#metrics?.url ?? Promise.resolve(undefined);
  }

  upgrade(options: { trigger?: string } = {}): Promise<ReloadResult> {
    const s = this.#s;
    const timeoutMs = Math.min(MAX_TIMER_MS, s.readyTimeoutMs + s.stabilizeMs + s.drainTimeoutMs + LOAD_SLACK_MS);
    // force: the same release path must still upgrade, since the code under it can change.
    const run = this.#instrumentation.reload({ target: s.target, trigger: options.trigger ?? 'api', force: true, timeoutMs }, this.#stages());
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
    return run;
  }

  #stages(): ReloadStages<Generation, Switched> {
    return {
      load: (ctx) => this.#load(ctx),
      identify: (gen) => ({ hash: gen.release.hash, version: gen.release.version }),
      verify: (gen, ctx) => this.#verify(gen, ctx),
      switch: (gen) => this.#switch(gen),
      unload: (switched) => this.#unload(switched),
    };
  }

  async #load(ctx: StageContext): Promise<Generation> {
    if (this.#closed) throw new ClusterError('closed', 'the supervisor is closing', { stage: 'load' });
    const release = await resolveRelease(this.#s.release, this.#s.entry, this.#s);
    if (this.#closed) throw new ClusterError('closed', 'the supervisor is closing', { stage: 'load' });
    const gen: Generation = {
      id: ++this.#generations,
      release,
      execArgv: workerExecArgv(this.#s.execArgv, this.#workerTelemetry),
      workers: [],
      held: this.#current !== undefined,
      addresses: [],
    };
    // The workers' start-up spans become children of this load stage (W3C trace context in the env).
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), ctx.span), carrier);
    const env = { TRACEPARENT: carrier.traceparent ?? '', TRACESTATE: carrier.tracestate ?? '' };
    for (let i = 0; i < this.#s.workers; i++) gen.workers.push(this.#fork(gen, i, 'starting', { ...env, [ENV_HOLD]: gen.held ? '1' : '0' }));
    return gen;
  }

  #fork(gen: Generation, slot: number, state: WorkerState, extraEnv: Record<string, string> = { ...NO_TRACE_PARENT, [ENV_HOLD]: '0' }): WorkerHandle {
    // Per generation, so a replacement forked later runs this generation's release even after
    // the symlink moved on, and the app never receives the supervisor's own flags.
    cluster.setupPrimary({ exec: gen.release.entry, execArgv: gen.execArgv, args: [], cwd: gen.release.dir });
    // fork() merges process.env under this: the withheld variables are left out by name.
    const worker = cluster.fork({
      ...withheldEnv(process.env, this.#secrets),
      ...this.#s.env,
      ...(this.#workerTelemetry ? WORKER_TELEMETRY_ENV : {}),
      ...extraEnv,
      [ENV_GENERATION]: String(gen.id),
      [ENV_SLOT]: String(slot),
      [ENV_HEALTH]: this.#s.health === undefined ? '0' : '1',
    });
    const handle = new WorkerHandle(worker, gen.id, slot, state, extraEnv[ENV_HOLD] === '1');
    const started = Date.now();
    this.#live.add(handle);
    void handle.exited.then(() => this.#exited(handle, gen, started));
    return handle;
  }

  async #verify(gen: Generation, ctx: StageContext): Promise<void> {
    const s = this.#s;
    const service: ServiceSpec = this.#service ? { addresses: this.#service } : { learn: true, port: s.port };
    try {
      const served = await Promise.all(gen.workers.map((w) => w.whenReady({ service, readyTimeoutMs: s.readyTimeoutMs, stabilizeMs: s.stabilizeMs, health: s.health, signal: ctx.signal })));
      gen.addresses = this.#service ?? commonAddresses(served);
      if (gen.addresses.length === 0) {
        throw new ClusterError('wrong_address', `the workers share no listening address (${served.map((keys) => keys.join(', ')).join(' / ')})`, { stage: 'verify' });
      }
    } catch (err) {
      await this.#discard(gen);
      if (this.#closed) throw new ClusterError('closed', 'the supervisor is stopping', { stage: 'verify', cause: err });
      throw err;
    }
  }

  /**
   * Rollback of a generation that never took traffic (it was held; the old one never stopped). It
   * is drained, not killed: the primary may be handing one of its listeners a connection at this
   * very moment (which it refuses, and the primary passes on), and a worker killed mid-handoff
   * takes that connection with it. One that does not leave within DISCARD_MS is killed.
   */
  async #discard(gen: Generation): Promise<void> {
    await Promise.all(gen.workers.map((w) => w.drain(Math.min(DISCARD_MS, this.#s.drainTimeoutMs), this.#s.idleCloseMs)));
  }

  async #switch(gen: Generation): Promise<Switched> {
    // The new generation takes connections first; the old one stops only once every new worker confirmed.
    const confirmed = await Promise.all(gen.workers.map((w) => w.serve(SERVE_ACK_MS)));
    const missing = gen.workers.filter((_, i) => !confirmed[i]);
    if (missing.length > 0 || this.#closed) {
      // Those that confirmed may hold connections already: they drain like an old generation.
      await Promise.all(gen.workers.map((w) => w.drain(this.#s.drainTimeoutMs, this.#s.idleCloseMs)));
      if (this.#closed) throw new ClusterError('closed', 'the supervisor is stopping', { stage: 'switch' });
      throw new ClusterError('ready_timeout', `worker ${missing.map((w) => w.worker.id).join(', ')} did not confirm the switch within ${SERVE_ACK_MS} ms`, { stage: 'switch' });
    }
    // Serving from here on: a serial below this one is now a rollback (in memory before any await).
    const accepted = acceptRelease(gen.release, this.#s.target);
    const previous = this.#current;
    for (const w of gen.workers) w.state = 'current';
    this.#current = gen;
    this.#service ??= gen.addresses;
    // Draining starts here: the old workers stop listening, so new connections reach only the new generation.
    const drains = previous ? previous.workers.filter((w) => w.alive).map((w) => w.drain(this.#s.drainTimeoutMs, this.#s.idleCloseMs)) : [];
    return { previous, drains, accepted };
  }

  async #unload(switched: Switched): Promise<void> {
    await switched.accepted;
    for (const result of await Promise.all(switched.drains)) {
      this.#telemetry.drained(result.seconds);
      if (result.killed) this.counts.forcedKills += 1;
    }
  }

  #exited(handle: WorkerHandle, gen: Generation, started: number): void {
    this.#live.delete(handle);
    if (this.#closed || handle.leaving || handle.state !== 'current' || this.#current !== gen) return;
    // A crash outside an upgrade: replace it, with exponential backoff across consecutive crashes.
    const now = Date.now();
    if (now - started >= BACKOFF_RESET_MS && now - this.#lastCrash >= BACKOFF_RESET_MS) this.#crashes = 0;
    this.#lastCrash = now;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(this.#crashes, 20));
    this.#crashes += 1;
    const timer = setTimeout(() => {
      if (this.#closed || this.#current !== gen) return;
      this.counts.restarts += 1;
      gen.workers[handle.slot] = this.#fork(gen, handle.slot, 'current');
    }, delay);
    timer.unref();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#stopSignal?.();
    await this.#http?.close().catch(() => {});
    await this.#metrics?.close();
    const drains = [...this.#live].map((w) => w.drain(this.#s.drainTimeoutMs, this.#s.idleCloseMs));
    for (const result of await Promise.all(drains)) {
      this.#telemetry.drained(result.seconds);
      if (result.killed) this.counts.forcedKills += 1;
    }
    // An upgrade that was running saw its workers go and ends within its deadline.
    await Promise.allSettled([...this.#running]);
    for (const w of this.#live) w.kill();
    await Promise.all([...this.#live].map((w) => w.exited));
    this.#telemetry.close();
    this.#claim.release();
  }
}

/**
 * Start a supervised cluster: the primary never runs application code; each upgrade is one
 * reload run (load → verify → switch → unload) of core. Resolves once the first generation is
 * ready; rejects with the first run's error when it is not (no worker is left behind).
 */
export async function superviseCluster(options: SuperviseOptions): Promise<ClusterSupervisor> {
  if (!cluster.isPrimary) throw new TypeError('superviseCluster: must run in the primary process, not in a cluster worker');
  const settings = checkClusterOptions(options, availableParallelism());
  const signal = options.signal === false ? undefined : checkReloadSignal(options.signal ?? 'SIGUSR2');
  if (options.workerTelemetry !== undefined) checkBoolean('superviseCluster: options.workerTelemetry', options.workerTelemetry);
  const m = options.metrics;
  if (m !== undefined) {
    if (typeof m !== 'object' || m === null || typeof m.host !== 'string') throw new TypeError('superviseCluster: options.metrics must be { host, port, primaryUrl? }');
    checkPositiveInteger('superviseCluster: options.metrics.port', m.port, { min: 0, max: 65535 });
    if (m.primaryUrl !== undefined && typeof m.primaryUrl !== 'string') throw new TypeError('superviseCluster: options.metrics.primaryUrl must be a URL string');
  }
  const instrumentation = options.instrumentation ?? new ReloadInstrumentation();
  const token = (options.http as { token?: unknown } | undefined)?.token;
  const supervisor = new Supervisor(settings, instrumentation, options.meterProvider, typeof token === 'string' ? [token] : []);
  supervisor.listenForSignal(signal);
  supervisor.serveMetrics(options.workerTelemetry === true, options.metrics);
  const first = await supervisor.upgrade({ trigger: 'startup' });
  if (first.outcome !== 'success') {
    await supervisor.close();
    throw first.error?.cause ?? new ClusterError('worker_exited', `the first generation did not start (${first.outcome})`);
  }
  try {
    await supervisor.listenForHttp(options.http);
  } catch (err) {
    await supervisor.close();
    throw err;
  }
  return supervisor;
}
