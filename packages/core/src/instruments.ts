import type {
  Counter,
  Histogram,
  Meter,
  MetricOptions,
  ObservableGauge,
  UpDownCounter,
} from '@opentelemetry/api';
import type { InstrumentKind, MetricDefinition } from './catalogue.ts';

export type InstrumentFor<K extends InstrumentKind> = K extends 'Counter'
  ? Counter
  : K extends 'Histogram'
    ? Histogram
    : K extends 'UpDownCounter'
      ? UpDownCounter
      : ObservableGauge;

/**
 * Create one instrument from its catalogue row: name, unit, description and bucket edges all come
 * from the table, so code, docs and tests cannot drift apart. Gauges are observable: they report
 * state at collection time and need a callback (see Meter.addBatchObservableCallback).
 */
export function createInstrument<D extends MetricDefinition>(meter: Meter, def: D): InstrumentFor<D['kind']> {
  const options: MetricOptions = { description: def.description, unit: def.unit };
  if (def.buckets) options.advice = { explicitBucketBoundaries: [...def.buckets] };
  switch (def.kind) {
    case 'Counter':
      return meter.createCounter(def.name, options) as InstrumentFor<D['kind']>;
    case 'Histogram':
      return meter.createHistogram(def.name, options) as InstrumentFor<D['kind']>;
    case 'UpDownCounter':
      return meter.createUpDownCounter(def.name, options) as InstrumentFor<D['kind']>;
    case 'Gauge':
      return meter.createObservableGauge(def.name, options) as InstrumentFor<D['kind']>;
  }
}

/** Create every instrument of a catalogue subset, keyed like the subset. */
export function createInstruments<T extends Record<string, MetricDefinition>>(
  meter: Meter,
  defs: T,
): { [K in keyof T]: InstrumentFor<T[K]['kind']> } {
  const out = {} as { [K in keyof T]: InstrumentFor<T[K]['kind']> };
  for (const key of Object.keys(defs) as Array<keyof T>) out[key] = createInstrument(meter, defs[key]);
  return out;
}
