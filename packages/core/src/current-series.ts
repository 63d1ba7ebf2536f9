import { type Attributes, createNoopMeter, diag, type MeterProvider } from '@opentelemetry/api';
import type { MetricDefinition } from './catalogue.ts';
import { errorType } from './errors.ts';

/**
 * Gauges state what is true now: the active version and its hash, the newest candidate, the
 * served certificate's end, the latest run's handle delta, the live workers. They are not SDK
 * instruments, because the OpenTelemetry JS SDK (sdk-metrics 3.x, open-telemetry-js#4096) keeps
 * exporting, with cumulative temporality, every attribute set an asynchronous instrument ever
 * reported, at its last value: after a reload the previous version's info series stayed at 1 next
 * to the new one, and after about 2 000 versions its cardinality limit (which it also never frees)
 * moved the active version into `otel.metric.overflow`. Nothing a View or an aggregation can be
 * told changes that.
 *
 * Instead a package binds a source to the meter provider its instruments use, and
 * `@reloadscope/register`'s metric producer (a `MetricProducer` on every reader of that provider)
 * asks every source of the provider at each collection and exports exactly what they report: a
 * series whose state ended is gone from the next scrape, and nothing is remembered in between.
 * Counters and histograms count events and stay SDK instruments.
 */

/** A catalogue row of kind Gauge. */
export type GaugeDefinition = MetricDefinition & { readonly kind: 'Gauge' };

/** The instrumentation scope a source reports under: that of the meter of its package's instruments. */
export interface CurrentScope {
  readonly name: string;
  readonly version: string;
}

/** What a source is handed at each collection. Only the attribute sets observed now are exported. */
export interface CurrentGauges {
  observe(definition: GaugeDefinition, value: number, attributes: Attributes): void;
}

export type CurrentSeriesSource = (gauges: CurrentGauges) => void;

export interface CurrentPoint {
  readonly attributes: Attributes;
  readonly value: number;
}

export interface CurrentGauge {
  readonly definition: GaugeDefinition;
  readonly points: readonly CurrentPoint[];
}

/** One scope's gauges at one collection, ready for a metric producer. */
export interface CurrentScopeSeries {
  readonly scope: CurrentScope;
  readonly gauges: readonly CurrentGauge[];
}

interface Binding {
  readonly scope: CurrentScope;
  readonly source: CurrentSeriesSource;
  reported: boolean;
}

// On globalThis, so that every copy of core in a process (a dependency's own, say) binds to the
// registry register's producer reads.
const REGISTRY = Symbol.for('@reloadscope/core.current-series');
interface ProviderEntry {
  readonly bindings: Set<Binding>;
  /** Collections of this provider by a producer so far. */
  collected: number;
  /** Whether "no reader collects the gauges" was said. */
  warned: boolean;
}
type Registry = WeakMap<MeterProvider, ProviderEntry>;

function registry(): Registry {
  const holder = globalThis as { [REGISTRY]?: Registry };
  holder[REGISTRY] ??= new WeakMap();
  return holder[REGISTRY];
}

const NOOP_METER = createNoopMeter().constructor;

/**
 * Report `source`'s gauges through every reader of `provider` that carries register's producer,
 * from now until the returned function is called. Nothing is kept for a no-op provider (the API's
 * default before an SDK is registered): it is never collected.
 */
export function bindCurrentSeries(provider: MeterProvider, scope: CurrentScope, source: CurrentSeriesSource): () => void {
  if (provider.getMeter(scope.name, scope.version).constructor === NOOP_METER) return () => {};
  const map = registry();
  let entry = map.get(provider);
  if (!entry) {
    entry = { bindings: new Set(), collected: 0, warned: false };
    map.set(provider, entry);
  }
  const binding: Binding = { scope: { name: scope.name, version: scope.version }, source, reported: false };
  const set = entry.bindings;
  set.add(binding);
  return () => {
    set.delete(binding);
  };
}

/**
 * Ask every source bound to `provider` for what is true now. A source that throws contributes
 * nothing to this collection (no half a state) and is reported once; the others are unaffected.
 * Two points with one attribute set in one gauge (two reloaders under one target name) are one
 * series, the later one's value, as the SDK does within one collection.
 */
export function collectCurrentSeries(provider: MeterProvider): CurrentScopeSeries[] {
  const entry = registry().get(provider);
  if (!entry) return [];
  entry.collected += 1;
  const bindings = entry.bindings;
  if (bindings.size === 0) return [];
  const scopes = new Map<string, Map<string, { definition: GaugeDefinition; points: Map<string, CurrentPoint> }>>();
  const scopeOf = new Map<string, CurrentScope>();
  for (const binding of bindings) {
    const observed: Array<[GaugeDefinition, CurrentPoint]> = [];
    try {
      binding.source({
        observe(definition, value, attributes) {
          if (typeof value === 'number') observed.push([definition, { attributes, value }]);
        },
      });
    } catch (err) {
      if (!binding.reported) {
        binding.reported = true;
        diag.warn(`reloadscope: a source of ${binding.scope.name}'s gauges threw (${errorType(err)}); its gauges are left out of the collection, reloads are unaffected`);
      }
      continue;
    }
    const key = `${binding.scope.name}@${binding.scope.version}`;
    scopeOf.set(key, binding.scope);
    let gauges = scopes.get(key);
    if (!gauges) {
      gauges = new Map();
      scopes.set(key, gauges);
    }
    for (const [definition, point] of observed) {
      let gauge = gauges.get(definition.name);
      if (!gauge) {
        gauge = { definition, points: new Map() };
        gauges.set(definition.name, gauge);
      }
      gauge.points.set(attributeKey(point.attributes), point);
    }
  }
  return [...scopes].map(([key, gauges]) => ({
    scope: scopeOf.get(key)!,
    gauges: [...gauges.values()].map(({ definition, points }) => ({ definition, points: [...points.values()] })),
  }));
}

/**
 * Called by an instrumentation whose SDK instruments were just collected for the `collections`-th
 * time. From the second on (a producer runs after the SDK in the same collection), a provider no
 * producer ever collected is a reader without `currentSeriesProducer`: its gauges — and the alerts
 * on them (consecutive failures, the last reload, the certificate's expiry) — would be missing
 * without a word. Said once per provider.
 */
export function noteInstrumentsCollected(provider: MeterProvider, scope: CurrentScope, collections: number): void {
  if (collections < 2) return;
  const entry = registry().get(provider);
  if (!entry || entry.collected > 0 || entry.warned) return;
  entry.warned = true;
  diag.error(
    `reloadscope: a metric reader collected ${scope.name}'s instruments but never its gauges (active version, candidate, consecutive failures, TLS expiry…): add currentSeriesProducer(() => meterProvider, { views }) from @reloadscope/register/api to that reader's metricProducers`,
  );
}

function attributeKey(attributes: Attributes): string {
  return JSON.stringify(Object.keys(attributes).sort().map((k) => [k, attributes[k]]));
}
