import { type Meter, type MeterProvider, metrics, type Tracer, type TracerProvider, trace } from '@opentelemetry/api';
// Type-only on purpose: the package's runtime (require-in-the-middle, import-in-the-middle, debug,
// semver…) exists to patch modules, which reloadscope never does; loading it was a tenth of
// `--import @reloadscope/register`'s start-up and over a MiB of its memory.
import type { Instrumentation, InstrumentationConfig } from '@opentelemetry/instrumentation';
import { bindCurrentSeries, type CurrentGauges, noteInstrumentsCollected } from './current-series.ts';

export type { InstrumentationConfig };

/**
 * The base of reloadscope's instrumentations: an OpenTelemetry `Instrumentation` (so
 * `registerInstrumentations()` and NodeSDK's `instrumentations` accept it) that patches no module.
 * It keeps what `InstrumentationBase` does for such an instrumentation: tracer and meter from the
 * global providers until `setTracerProvider` / `setMeterProvider`, `_updateMetricInstruments()` on
 * every new meter, `config.enabled` defaulting to true, enabled by the constructor unless
 * `enabled: false`. A subclass with gauges implements `_observeCurrent`, which is bound to the
 * meter provider in use (see current-series.ts: gauges are not SDK instruments).
 *
 * The constructor calls `setConfig`, `_updateMetricInstruments` and `enable` before a subclass's
 * field initialisers run: a subclass keeps what those create in `declare`d fields.
 */
export abstract class NonPatchingInstrumentation<C extends InstrumentationConfig = InstrumentationConfig> implements Instrumentation<C> {
  readonly instrumentationName: string;
  readonly instrumentationVersion: string;
  /** Set by enable() and disable(); subclasses only read it. */
  protected _enabled = false;
  #config!: C;
  #tracer: Tracer;
  #meter: Meter;
  #meterProvider: MeterProvider;
  #unbindCurrent: (() => void) | undefined;
  #collections = 0;

  constructor(instrumentationName: string, instrumentationVersion: string, config: C) {
    this.instrumentationName = instrumentationName;
    this.instrumentationVersion = instrumentationVersion;
    this.setConfig(config);
    this.#tracer = trace.getTracer(instrumentationName, instrumentationVersion);
    this.#meterProvider = metrics.getMeterProvider();
    this.#meter = this.#meterProvider.getMeter(instrumentationName, instrumentationVersion);
    this._updateMetricInstruments();
    this.#bindCurrentSeries(this.#meterProvider);
    if (this.#config.enabled) this.enable();
  }

  get tracer(): Tracer {
    return this.#tracer;
  }

  get meter(): Meter {
    return this.#meter;
  }

  setTracerProvider(tracerProvider: TracerProvider): void {
    this.#tracer = tracerProvider.getTracer(this.instrumentationName, this.instrumentationVersion);
  }

  setMeterProvider(meterProvider: MeterProvider): void {
    this.#meterProvider = meterProvider;
    this.#meter = meterProvider.getMeter(this.instrumentationName, this.instrumentationVersion);
    this.#collections = 0;
    this._updateMetricInstruments();
    this.#bindCurrentSeries(meterProvider);
  }

  /** Creates the instruments on `this.meter`; called again for each new meter provider. */
  protected _updateMetricInstruments(): void {}

  /**
   * Reports the gauges: what is true at the moment of the collection, and nothing that stopped
   * being true. Called by register's metric producer, once per collection of a reader.
   */
  protected _observeCurrent?(gauges: CurrentGauges): void;

  /**
   * A subclass calls this from its SDK instruments' observable callback: a reader that collects
   * them but not the gauges is then said once (see noteInstrumentsCollected).
   */
  protected _instrumentsCollected(): void {
    if (!this._observeCurrent) return;
    this.#collections += 1;
    noteInstrumentsCollected(this.#meterProvider, { name: this.instrumentationName, version: this.instrumentationVersion }, this.#collections);
  }

  #bindCurrentSeries(meterProvider: MeterProvider): void {
    this.#unbindCurrent?.();
    this.#unbindCurrent = undefined;
    if (!this._observeCurrent) return;
    this.#unbindCurrent = bindCurrentSeries(meterProvider, { name: this.instrumentationName, version: this.instrumentationVersion }, (gauges) =>
      this._observeCurrent?.(gauges),
    );
  }

  getConfig(): C {
    return this.#config;
  }

  /** Replaces the config; `enabled` defaults to true. Does not itself enable or disable. */
  setConfig(config: C): void {
    this.#config = { enabled: true, ...config };
  }

  enable(): void {
    this._enabled = true;
  }

  disable(): void {
    this._enabled = false;
  }

  isEnabled(): boolean {
    return this._enabled;
  }
}

