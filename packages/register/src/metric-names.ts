import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { MetricData, ResourceMetrics, ViewOptions } from '@opentelemetry/sdk-metrics';
import { METRIC_LIST, type MetricDefinition, prometheusViews } from '@reloadscope/core';

/**
 * How reloadscope's instruments get the catalogue's Prometheus names on both metric paths.
 *
 * A View applies to every reader of the MeterProvider, and an instrument a View matches gets the
 * View's aggregation on every reader: the reader's own choice (OTLP's exponential histograms) is
 * not asked. So register renames with Views only what the pull path and the push path both need
 * renamed, and never a histogram:
 * - the Prometheus endpoint (JS exporter-prometheus adds `_total` but no unit suffix) gets every
 *   catalogue name from `CatalogueNamesSerializer`, at serialization, as `prometheusViews()` says;
 * - OTLP carries the OpenTelemetry names and units, which the Collector's (and Prometheus')
 *   standard translation turns into the catalogue names (`hotreload.duration` [s] →
 *   `hotreload_duration_seconds`), except where a catalogue name is not that translation
 *   (`hotreload_tls_not_after_timestamp_seconds`): those alone are Views.
 */

/** The Prometheus word the standard translation appends for a UCUM unit reloadscope uses. */
const UNIT_WORDS: Readonly<Record<string, string>> = { s: 'seconds', By: 'bytes' };

/**
 * The base name (without `_total`) the OpenTelemetry → Prometheus translation gives an
 * instrument: name words joined by `_`, plus the unit's word unless the name has it already;
 * `{annotations}` add nothing. Undefined for a unit whose translation reloadscope does not know.
 */
export function translatedName(def: Pick<MetricDefinition, 'name' | 'unit'>): string | undefined {
  const words = def.name.split(/[^a-zA-Z0-9:]+/).filter(Boolean);
  if (def.unit === '' || /^\{[^}]*\}$/.test(def.unit)) return words.join('_');
  const word = UNIT_WORDS[def.unit];
  if (word === undefined) return undefined;
  if (!words.includes(word)) words.push(word);
  return words.join('_');
}

/** The Views of register's MeterProvider: the renames the translation cannot do (never a histogram: see above). */
export function sharedViews(): ViewOptions[] {
  const needed = new Set(METRIC_LIST.filter((d) => translatedName(d) !== d.prometheus).map((d) => d.name));
  return prometheusViews()
    .filter((v) => needed.has(v.instrumentName))
    .map((v) => ({ meterName: v.meterName, instrumentName: v.instrumentName, name: v.name }));
}

/**
 * exporter-prometheus's serializer with the catalogue's names: a metric of a reloadscope meter
 * that no View renamed is written under its Prometheus name. The collected data is copied, never
 * changed (its descriptors belong to the SDK's storages).
 */
export class CatalogueNamesSerializer extends PrometheusSerializer {
  readonly #names = new Map(prometheusViews().map((v) => [`${v.meterName}\u0000${v.instrumentName}`, v.name]));

  override serialize(resourceMetrics: ResourceMetrics): string {
    return super.serialize({
      ...resourceMetrics,
      scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
        ...scope,
        metrics: scope.metrics.map((metric) => this.#renamed(scope.scope.name, metric)),
      })),
    });
  }

  #renamed(meterName: string, metric: MetricData): MetricData {
    const name = this.#names.get(`${meterName}\u0000${metric.descriptor.name}`);
    return name === undefined ? metric : { ...metric, descriptor: { ...metric.descriptor, name } };
  }
}
