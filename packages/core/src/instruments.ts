import type { Counter, Histogram, Meter, MetricOptions, ObservableCounter, ObservableUpDownCounter, UpDownCounter } from '@opentelemetry/api';
import type { MetricDefinition } from './catalogue.ts';

/** The API type of the instrument a catalogue row creates; a Gauge is no instrument (current-series.ts). */
export type InstrumentFor<D extends MetricDefinition> = D['kind'] extends 'Gauge'
  ? never
  : D extends { readonly observed: true }
    ? D['kind'] extends 'Counter'
      ? ObservableCounter
      : ObservableUpDownCounter
    : D['kind'] extends 'Counter'
      ? Counter
      : D['kind'] extends 'Histogram'
        ? Histogram
        : UpDownCounter;

/**
 * Create one instrument from its catalogue row: name, unit, description and bucket edges all come
 * from the table, so code, docs and tests cannot drift apart. `observed` rows are asynchronous:
 * they report state at collection time and need a callback (see Meter.addBatchObservableCallback).
 * A Gauge is refused: it is reported through bindCurrentSeries(), because the SDK's aggregation
 * of an observable gauge keeps every attribute set it ever saw.
 */
export function createInstrument<D extends MetricDefinition>(meter: Meter, def: D): InstrumentFor<D> {
  const options: MetricOptions = { description: def.description, unit: def.unit };
  if (def.buckets) options.advice = { explicitBucketBoundaries: [...def.buckets] };
  return make(meter, def, options) as InstrumentFor<D>;
}

function make(meter: Meter, def: MetricDefinition, options: MetricOptions) {
  switch (def.kind) {
    case 'Counter':
      return def.observed ? meter.createObservableCounter(def.name, options) : meter.createCounter(def.name, options);
    case 'UpDownCounter':
      return def.observed ? meter.createObservableUpDownCounter(def.name, options) : meter.createUpDownCounter(def.name, options);
    case 'Histogram':
      if (def.observed) throw new TypeError(`${def.name}: a histogram cannot be observed`);
      return meter.createHistogram(def.name, options);
    case 'Gauge':
      throw new TypeError(`${def.name}: a gauge is not an SDK instrument; report it through bindCurrentSeries() (see @reloadscope/core current-series)`);
  }
}

/** Create every instrument of a catalogue subset, keyed like the subset. */
export function createInstruments<T extends Record<string, MetricDefinition>>(
  meter: Meter,
  defs: T,
): { [K in keyof T]: InstrumentFor<T[K]> } {
  const out = {} as { [K in keyof T]: InstrumentFor<T[K]> };
  for (const key of Object.keys(defs) as Array<keyof T>) out[key] = createInstrument(meter, defs[key]);
  return out;
}
