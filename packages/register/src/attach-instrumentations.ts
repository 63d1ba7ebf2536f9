import { type MeterProvider, metrics, type TracerProvider, trace } from '@opentelemetry/api';
import type { NonPatchingInstrumentation } from '@reloadscope/core';

/** The part of an OpenTelemetry `Instrumentation` that attaching it needs. */
type Attachable = Pick<NonPatchingInstrumentation, 'setTracerProvider' | 'setMeterProvider' | 'enable' | 'disable'>;

/**
 * What `registerInstrumentations()` from @opentelemetry/instrumentation does with reloadscope's
 * instrumentations, without loading that package at boot: the providers given (the global ones
 * otherwise), then enable. (It enables only those whose config says `enabled: false`, their
 * constructor having enabled the others: the same end state.) Returns the function that disables
 * them again.
 */
export function attachInstrumentations(instrumentations: readonly Attachable[], providers: { tracerProvider?: TracerProvider; meterProvider?: MeterProvider } = {}): () => void {
  const tracerProvider = providers.tracerProvider ?? trace.getTracerProvider();
  const meterProvider = providers.meterProvider ?? metrics.getMeterProvider();
  for (const instrumentation of instrumentations) {
    instrumentation.setTracerProvider(tracerProvider);
    instrumentation.setMeterProvider(meterProvider);
    instrumentation.enable();
  }
  return () => {
    for (const instrumentation of instrumentations) instrumentation.disable();
  };
}
