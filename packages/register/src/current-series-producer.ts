import { type MeterProvider, ValueType } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import { AggregationTemporality, type CollectionResult, DataPointType, type MetricProducer, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { collectCurrentSeries } from '@reloadscope/core';

/** The renaming part of a View, as `prometheusViews()` from @reloadscope/core gives it. */
export interface RenamingView {
  meterName?: string;
  instrumentName?: string;
  name?: string;
}

export interface CurrentSeriesProducerOptions {
  /**
   * The Views of the meter provider: a gauge they rename (meter name and instrument name given
   * exactly, as `prometheusViews()` does) is exported under the View's name, as an instrument would be.
   */
  views?: readonly RenamingView[];
}

/**
 * The metric producer of reloadscope's gauges: put it in `metricProducers` of every reader of the
 * meter provider the instrumentations use, and each collection of that reader asks them what is
 * true now (the active version, the newest candidate, live workers…) and exports exactly that. A
 * version that is no longer active has no series at the next scrape. Gauges are not SDK
 * instruments because the SDK's aggregation keeps every attribute set an observable gauge ever
 * reported (see @reloadscope/core's current-series).
 *
 * `meterProvider` is asked at each collection: a reader is built before its provider, so pass
 * `() => provider`. Until it returns a provider, the producer reports nothing.
 */
export function currentSeriesProducer(meterProvider: () => MeterProvider | undefined, options: CurrentSeriesProducerOptions = {}): MetricProducer {
  if (typeof meterProvider !== 'function') throw new TypeError('currentSeriesProducer(meterProvider): meterProvider must be a function returning the MeterProvider');
  const renames = new Map<string, string>();
  for (const view of options.views ?? []) {
    if (view.meterName !== undefined && view.instrumentName !== undefined && view.name !== undefined) renames.set(`${view.meterName}\n${view.instrumentName}`, view.name);
  }
  return {
    async collect(): Promise<CollectionResult> {
      const provider = meterProvider();
      const scopeMetrics: ScopeMetrics[] = [];
      if (provider) {
        const now = hrTime();
        for (const { scope, gauges } of collectCurrentSeries(provider)) {
          scopeMetrics.push({
            scope: { name: scope.name, version: scope.version },
            metrics: gauges.map(({ definition, points }) => ({
              descriptor: {
                name: renames.get(`${scope.name}\n${definition.name}`) ?? definition.name,
                description: definition.description,
                unit: definition.unit,
                valueType: ValueType.DOUBLE,
              },
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.GAUGE,
              dataPoints: points.map(({ attributes, value }) => ({ startTime: now, endTime: now, attributes, value })),
            })),
          });
        }
      }
      // The reader exports the resource of the SDK's own collection; this one is never used.
      return { resourceMetrics: { resource: emptyResource(), scopeMetrics }, errors: [] };
    },
  };
}
