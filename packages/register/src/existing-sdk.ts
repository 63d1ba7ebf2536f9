import { createNoopMeter, metrics, ProxyTracerProvider, trace } from '@opentelemetry/api';

/**
 * Whether the application registered a global TracerProvider before reloadscope started. The API
 * always hands out its proxy; a registered SDK is its delegate (a no-op tracer provider otherwise).
 * A provider from another copy of the API is not a ProxyTracerProvider here: counted as registered.
 */
export function hasGlobalTracerProvider(): boolean {
  const global = trace.getTracerProvider();
  if (!(global instanceof ProxyTracerProvider)) return true;
  const noop = new ProxyTracerProvider().getDelegate();
  return global.getDelegate().constructor !== noop.constructor;
}

/** Whether a global MeterProvider is registered: without one the API hands out its no-op meter. */
export function hasGlobalMeterProvider(): boolean {
  return metrics.getMeterProvider().getMeter('@reloadscope/register').constructor !== createNoopMeter().constructor;
}
