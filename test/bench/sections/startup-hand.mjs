/**
 * The hand-written SDK boot `startup.ts` compares `--import @reloadscope/register` against: the
 * same exporters (OTLP/HTTP traces in batches, a Prometheus endpoint), AsyncLocalStorage context
 * and W3C propagation, set up with the SDK packages directly, as a service would without
 * reloadscope. Loaded with `node --import`.
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

const resource = resourceFromAttributes({ 'service.name': 'startup-bench' });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
trace.setGlobalTracerProvider(
  new TracerProvider({ resource, spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT }) })] }),
);
metrics.setGlobalMeterProvider(new MeterProvider({ resource, readers: [new PrometheusExporter({ host: '127.0.0.1', port: 0 })] }));
