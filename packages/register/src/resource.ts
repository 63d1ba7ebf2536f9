import { randomUUID } from 'node:crypto';
import { defaultResource, detectResources, hostDetector, type Resource, resourceFromAttributes } from '@opentelemetry/resources';

/**
 * This process's `service.instance.id` when the environment gives none. Metrics pushed over OTLP
 * are told apart by it (the Collector's exporters make it the `instance` label): without it, two
 * replicas of one service would write the same series. A UUID, as the semantic conventions advise.
 */
const INSTANCE_ID = randomUUID();

/**
 * The resource of everything reloadscope exports. OTEL_RESOURCE_ATTRIBUTES arrives already parsed
 * (env.ts: a malformed pair is skipped alone, where the upstream envDetector drops them all).
 * service.name: the code option, else OTEL_SERVICE_NAME, else the attribute, else the SDK default.
 * The process detector is left out on purpose: process.command_args can carry secrets (tokens
 * passed as flags); pid and runtime are added by hand instead. `service.instance.id` is this
 * process's UUID unless OTEL_RESOURCE_ATTRIBUTES names the instance.
 */
export function buildResource(attributes: Readonly<Record<string, string>>, serviceName: string | undefined): Resource {
  let resource = defaultResource()
    .merge(detectResources({ detectors: [hostDetector] }))
    .merge(
      resourceFromAttributes({
        'process.pid': process.pid,
        'process.runtime.name': 'nodejs',
        'process.runtime.version': process.versions.node,
        'service.instance.id': INSTANCE_ID,
      }),
    )
    .merge(resourceFromAttributes(attributes));
  if (serviceName) resource = resource.merge(resourceFromAttributes({ 'service.name': serviceName }));
  return resource;
}
