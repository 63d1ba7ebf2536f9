import {
  context,
  diag,
  metrics,
  propagation,
  trace,
  type MeterProvider as ApiMeterProvider,
  type TracerProvider as ApiTracerProvider,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import {
  ConsoleMetricExporter,
  MeterProvider,
  type IMetricReader,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { checkDurationMs, ReloadInstrumentation, type ReloadInstrumentationConfig } from '@reloadscope/core';
import { type NodeProbesConfig, ReloadNodeProbes } from '@reloadscope/node';
import { afterStartUp } from './after-start-up.ts';
import { attachInstrumentations } from './attach-instrumentations.ts';
import { currentSeriesProducer } from './current-series-producer.ts';
import { diagLevel } from './diag-level.ts';
import { credentialsIn } from './credentials.ts';
import { readEnv } from './env.ts';
import { ExitBoundedExporter } from './exit-bounded-exporter.ts';
import type { Exporter } from './exporter.ts';
import { hasGlobalMeterProvider, hasGlobalTracerProvider } from './existing-sdk.ts';
import { GenerationStampSampler } from './generation-stamp.ts';
import { CatalogueNamesSerializer, sharedViews } from './metric-names.ts';
import { otlpMetricExporter, otlpSpanExporter, SelectingMetricExporter } from './otlp-exporters.ts';
import { PrometheusEndpoint } from './prometheus-endpoint.ts';
import { buildResource } from './resource.ts';
import { redactingDiagLogger } from './redacting-diag-logger.ts';
import { reportOnce, silenceReports, withholdCredentials } from './report.ts';
import { ReportingExporter } from './reporting-exporter.ts';
import { buildSampler } from './sampler.ts';
import { settleWithin } from './settle-within.ts';
import { flushOnSignals } from './signals.ts';

export interface StartOptions {
  /** Environment to read OTEL_* settings from. Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Overrides OTEL_SERVICE_NAME. */
  serviceName?: string;
  /** Config of the default ReloadInstrumentation (error message policy, default deadline). */
  instrumentation?: ReloadInstrumentationConfig;
  /** Node probes: false to disable, or their config. Default on (RELOADSCOPE_NODE_PROBES). */
  probes?: boolean | Omit<NodeProbesConfig, 'instrumentation'>;
  /** @opentelemetry/instrumentation-runtime-node. Default on (RELOADSCOPE_RUNTIME_METRICS). */
  runtimeMetrics?: boolean;
  /**
   * Stamp `hotreload.generations` (every active target's generation, one attribute) on every span;
   * 'per-target' adds `hotreload.generation.<target>`. Default on (RELOADSCOPE_STAMP_GENERATION).
   */
  stampGeneration?: boolean | 'per-target';
  /** Flush on SIGTERM/SIGINT, then keep Node's default exit. Default true. */
  handleSignals?: boolean;
  /**
   * The most a process that is ending waits for telemetry: beforeExit, shutdown() and the signal
   * handlers all share one deadline this long after the first of them began. Overrides
   * RELOADSCOPE_SHUTDOWN_TIMEOUT_MS. Default 2000.
   */
  shutdownTimeoutMs?: number;
}

/** How the SDK came to be: built by reloadscope, an existing global one reused, or OTEL_SDK_DISABLED. */
export type SdkMode = 'started' | 'reused' | 'disabled';

export interface Reloadscope {
  /** The process-wide ReloadInstrumentation: pass it to watchConfig() or call reload() on it. */
  readonly instrumentation: ReloadInstrumentation;
  readonly probes: ReloadNodeProbes | undefined;
  readonly traces: SdkMode;
  readonly metrics: SdkMode;
  /** URL of the Prometheus endpoint once listening; undefined when not serving (disabled, port taken). */
  metricsUrl(): Promise<string | undefined>;
  /** Export what is pending (spans in the batch queue). */
  forceFlush(): Promise<void>;
  /**
   * Flush and stop what reloadscope started (never a reused SDK). Idempotent. Resolves within the
   * shutdown limit (shutdownTimeoutMs) even when the Collector is down or does not answer.
   */
  shutdown(): Promise<void>;
}

const GLOBAL_KEY = Symbol.for('@reloadscope/register');
type Holder = { [GLOBAL_KEY]?: Reloadscope };

/** The running reloadscope of this process, if register or startReloadscope() ran. */
export function getReloadscope(): Reloadscope | undefined {
  return (globalThis as Holder)[GLOBAL_KEY];
}

/**
 * Boot reloadscope once per process. Later calls (a second --import, a second copy of the
 * package, register() after --import) return the running instance and ignore their options.
 */
export function startReloadscope(options: StartOptions = {}): Reloadscope {
  const running = getReloadscope();
  if (running) {
    if (Object.keys(options).length > 0) {
      reportOnce('already-started', 'reloadscope is already running in this process; options of the later start are ignored.');
    }
    return running;
  }
  // Options are the caller's code: a bad one is a TypeError for the caller, not a silent fallback.
  checkShutdownTimeout(options.shutdownTimeoutMs);
  checkStampGeneration(options.stampGeneration);
  const started = bootOrDisabled(options);
  (globalThis as Holder)[GLOBAL_KEY] = started;
  return started;
}

/** The default ReloadInstrumentation; starts reloadscope from the environment if nothing did yet. */
export function getReloadInstrumentation(): ReloadInstrumentation {
  return startReloadscope().instrumentation;
}

/** register runs before the app's first line: a throw here would kill the app, so it never escapes. */
function bootOrDisabled(options: StartOptions): Reloadscope {
  try {
    return boot(options);
  } catch (err) {
    reportOnce('boot-failed', `could not start (${err instanceof Error ? err.message : String(err)}); the application runs without reloadscope.`);
    const instrumentation = new ReloadInstrumentation({});
    return handle({ instrumentation, probes: undefined, traces: 'disabled', metrics: 'disabled', url: Promise.resolve(undefined), closers: [], flushers: [], beginExit: () => 0 });
  }
}

/** A timer's range: a larger delay would fire at once. A bad value is named by kind, never echoed (it may be a token). */
function checkShutdownTimeout(ms: unknown): void {
  if (ms !== undefined) checkDurationMs('shutdownTimeoutMs', ms, { min: 0 });
}

function checkStampGeneration(stamp: unknown): void {
  if (stamp !== undefined && typeof stamp !== 'boolean' && stamp !== 'per-target') {
    throw new TypeError(`stampGeneration must be true, false or 'per-target' (got ${typeof stamp === 'string' ? JSON.stringify(stamp) : typeof stamp})`);
  }
}

function boot(options: StartOptions): Reloadscope {
  const env = options.env ?? process.env;
  // Before anything can be said: no line may show a credential of the environment.
  withholdCredentials(credentialsIn(env));
  const settings = readEnv(env);
  const limitMs = options.shutdownTimeoutMs ?? settings.shutdownTimeoutMs;
  silenceReports(settings.logLevel === 'none');
  if (settings.logLevel && settings.logLevel !== 'none') {
    diag.setLogger(redactingDiagLogger(), { logLevel: diagLevel(settings.logLevel), suppressOverrideMessage: true });
  }
  for (const problem of settings.problems) reportOnce(`env:${problem}`, problem);

  const instrumentation = new ReloadInstrumentation(options.instrumentation ?? {});
  const probesWanted = options.probes ?? settings.probes;
  const probes =
    probesWanted === false
      ? undefined
      : new ReloadNodeProbes({
          ...(typeof probesWanted === 'object' ? probesWanted : {}),
          ...(settings.retainedGraceMs !== undefined && typeof probesWanted !== 'object' ? { retainedGraceMs: settings.retainedGraceMs } : {}),
          instrumentation,
        });
  const instrumentations: Array<ReloadInstrumentation | ReloadNodeProbes> = [instrumentation];
  if (probes) instrumentations.push(probes);

  if (settings.disabled) {
    // Instruments bind to the (no-op) global API: the app's reload code works, nothing is exported.
    attachInstrumentations(instrumentations);
    return handle({ instrumentation, probes, traces: 'disabled', metrics: 'disabled', url: Promise.resolve(undefined), closers: [], flushers: [], beginExit: () => limitMs });
  }

  const resource = buildResource(settings.resourceAttributes, options.serviceName ?? settings.serviceName);
  const closers: Array<() => Promise<void>> = [];
  const flushers: Array<() => Promise<void>> = [];
  // The OTLP exporters of both signals: each is held to the shutdown limit once exit begins.
  const bounded: Array<Pick<ExitBoundedExporter<unknown>, 'beginExit' | 'cancelExit'>> = [];
  // One deadline for the whole exit, set by whichever exit path runs first. Only beforeExit is
  // not final: a beforeExit listener may schedule more work and so keep the process running.
  let deadline: number | undefined;
  let final = false;
  const beginExit = (isFinal = true): number => {
    final ||= isFinal;
    deadline ??= Date.now() + limitMs;
    for (const b of bounded) b.beginExit(deadline, limitMs);
    return Math.max(0, deadline - Date.now());
  };
  /** An OTLP exporter bounded at exit and reporting an unreachable Collector once. */
  const limitSource = options.shutdownTimeoutMs === undefined ? 'RELOADSCOPE_SHUTDOWN_TIMEOUT_MS' : 'the shutdownTimeoutMs option';
  const otlpExport = <Batch>(make: (timeoutMs: number) => Exporter<Batch>, timeoutMs: number, url: string, signal: 'traces' | 'metrics', variable: string | undefined) => {
    const exitBounded = new ExitBoundedExporter(make, timeoutMs, signal, limitSource);
    bounded.push(exitBounded);
    return new ReportingExporter(exitBounded, url, signal, { variable, exiting: () => exitBounded.exiting });
  };
  const endExit = (flushedInTime: boolean) => {
    if (final) return;
    deadline = undefined;
    for (const b of bounded) b.cancelExit(!flushedInTime);
  };

  // ---- traces
  let tracerProvider: ApiTracerProvider | undefined;
  let tracesMode: SdkMode = 'started';
  if (hasGlobalTracerProvider()) {
    tracesMode = 'reused';
    reportOnce(
      'reuse-traces',
      'a global OpenTelemetry TracerProvider is already registered; reloadscope reuses it (its exporters, its sampling) ' +
        'and does not stamp hotreload.generations on spans.',
    );
  } else {
    const processors: SpanProcessor[] = [];
    const stampForm = options.stampGeneration ?? settings.stampGeneration;
    let sampler = buildSampler(settings.sampler);
    if (stampForm !== false) {
      const stamp = new GenerationStampSampler(sampler, instrumentation, stampForm === 'per-target' ? 'per-target' : 'combined');
      closers.push(async () => stamp.stop());
      sampler = stamp;
    }
    if (settings.traces.includes('otlp')) {
      const exporter = otlpExport(otlpSpanExporter(settings.tracesUrl, settings.tracesProtocol), settings.otlpTimeoutMs, settings.tracesUrl, 'traces', settings.tracesUrlVariable);
      processors.push(new BatchSpanProcessor({ ...settings.batch, exporter }));
    }
    if (settings.traces.includes('console')) processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
    const provider = new TracerProvider({ resource, sampler, spanProcessors: processors });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    );
    trace.setGlobalTracerProvider(provider);
    tracerProvider = provider;
    flushers.push(() => provider.forceFlush());
    closers.push(() => provider.shutdown());
  }

  // ---- metrics
  let meterProvider: ApiMeterProvider | undefined;
  let metricsMode: SdkMode = 'started';
  let url: Promise<string | undefined> = Promise.resolve(undefined);
  if (hasGlobalMeterProvider()) {
    metricsMode = 'reused';
    reportOnce(
      'reuse-metrics',
      'a global OpenTelemetry MeterProvider is already registered; reloadscope reuses it and starts no Prometheus endpoint. ' +
        'Add prometheusViews() from @reloadscope/core to its views for the documented Prometheus names, and ' +
        'currentSeriesProducer(() => provider, { views }) from @reloadscope/register/api to its readers\' metricProducers for the gauges (active version, candidate, …).',
    );
  } else {
    const readers: IMetricReader[] = [];
    // Every reader carries the producer of the gauges (what is true now); it reads the provider built below.
    // The Views rename only what the Collector's naming cannot produce; a View on a histogram would
    // force explicit buckets on every reader (metric-names.ts).
    const views = sharedViews();
    let built: MeterProvider | undefined;
    const gauges = currentSeriesProducer(() => built, { views });
    let endpoint: PrometheusEndpoint | undefined;
    if (settings.metrics.includes('prometheus')) {
      const exporter = new PrometheusExporter({ preventServerStart: true, metricProducers: [gauges] });
      readers.push(exporter);
      endpoint = new PrometheusEndpoint(exporter, settings.prometheusHost, settings.prometheusPort, '/metrics', new CatalogueNamesSerializer());
      url = endpoint.url;
    }
    const periodic = { exportIntervalMillis: settings.metricExportIntervalMs, exportTimeoutMillis: settings.metricExportTimeoutMs, metricProducers: [gauges] };
    if (settings.metrics.includes('otlp')) {
      const { otlpMetrics } = settings;
      const chain = otlpExport(otlpMetricExporter(otlpMetrics), otlpMetrics.timeoutMs, otlpMetrics.url, 'metrics', otlpMetrics.urlVariable);
      readers.push(new PeriodicExportingMetricReader({ ...periodic, exporter: new SelectingMetricExporter(chain, otlpMetrics) }));
    }
    if (settings.metrics.includes('console')) {
      readers.push(new PeriodicExportingMetricReader({ ...periodic, exporter: new ConsoleMetricExporter() }));
    }
    const provider = new MeterProvider({ resource, views, readers });
    built = provider;
    metrics.setGlobalMeterProvider(provider);
    meterProvider = provider;
    flushers.push(() => provider.forceFlush());
    closers.push(async () => {
      await provider.shutdown();
      await endpoint?.close();
    });
  }

  attachInstrumentations(instrumentations, { tracerProvider, meterProvider });
  if (options.runtimeMetrics ?? settings.runtimeMetrics) closers.push(startRuntimeMetrics(meterProvider));

  const flushAll = async () => {
    await Promise.all(flushers.map((f) => f().catch(() => {})));
  };
  if (options.handleSignals ?? true) {
    const off = flushOnSignals(flushAll, beginExit);
    closers.unshift(async () => off());
  }
  // A process that simply runs out of work exits without SIGTERM: flush the batch queue first.
  let flushedBeforeExit = false;
  const beforeExit = () => {
    if (flushedBeforeExit) return;
    flushedBeforeExit = true;
    void settleWithin(flushAll(), beginExit(false)).then(endExit);
  };
  process.on('beforeExit', beforeExit);
  closers.unshift(async () => {
    process.removeListener('beforeExit', beforeExit);
  });

  return handle({ instrumentation, probes, traces: tracesMode, metrics: metricsMode, url, closers, flushers, beginExit });
}

/**
 * instrumentation-runtime-node is loaded once the application runs (afterStartUp), not while it
 * starts: nothing needs it before the first scrape, and it (with its own copy of
 * @opentelemetry/instrumentation and that package's module hooks) is about a tenth of the start-up
 * and 2 MiB. Not loaded at all when the environment turned it off. Returns its closer.
 */
function startRuntimeMetrics(meterProvider: ApiMeterProvider | undefined): () => Promise<void> {
  let stopped = false;
  let unregister: (() => void) | undefined;
  const load = () => {
    if (stopped) return;
    import('@opentelemetry/instrumentation-runtime-node').then(
      ({ RuntimeNodeInstrumentation }) => {
        if (stopped) return;
        unregister = attachInstrumentations([new RuntimeNodeInstrumentation()], { meterProvider });
      },
      (err: unknown) =>
        reportOnce('runtime-metrics', `could not load @opentelemetry/instrumentation-runtime-node (${err instanceof Error ? err.message : String(err)}); runtime metrics are not reported.`),
    );
  };
  afterStartUp(load);
  return async () => {
    stopped = true;
    unregister?.();
  };
}

function handle(parts: {
  instrumentation: ReloadInstrumentation;
  probes: ReloadNodeProbes | undefined;
  traces: SdkMode;
  metrics: SdkMode;
  url: Promise<string | undefined>;
  closers: Array<() => Promise<void>>;
  flushers: Array<() => Promise<void>>;
  /** Starts the exit clock if no exit path did yet; returns the milliseconds left. */
  beginExit: () => number;
}): Reloadscope {
  let closing: Promise<void> | undefined;
  return {
    instrumentation: parts.instrumentation,
    probes: parts.probes,
    traces: parts.traces,
    metrics: parts.metrics,
    metricsUrl: () => parts.url,
    forceFlush: async () => {
      await Promise.all(parts.flushers.map((f) => f().catch(() => {})));
    },
    shutdown: () => {
      closing ??= (async () => {
        const left = parts.beginExit();
        parts.probes?.disable();
        parts.instrumentation.disable();
        // In parallel: a tracer provider waiting out the limit must not delay freeing the metrics port.
        await settleWithin(Promise.all(parts.closers.map((close) => close().catch(() => {}))), left);
      })();
      return closing;
    },
  };
}
