import { defaultResource, detectResources, hostDetector, type Resource, resourceFromAttributes } from '@opentelemetry/resources';

/**
 * The resource of everything reloadscope exports. OTEL_RESOURCE_ATTRIBUTES arrives already parsed
 * (env.ts: a malformed pair is skipped alone, where the upstream envDetector drops them all).
 * service.name: the code option, else OTEL_SERVICE_NAME, else the attribute, else the SDK default.
 * The process detector is left out on purpose: process.command_args can carry secrets (tokens
 * passed as flags); pid and runtime are added by hand instead.
 */
export function buildResource(attributes: Readonly<Record<string, string>>, serviceName: string | undefined): Resource {
  let resource = defaultResource()
    .merge(detectResources({ detectors: [hostDetector] }))
    .merge(
      resourceFromAttributes({
        'process.pid': process.pid,
        'process.runtime.name': 'nodejs',
        'process.runtime.version': process.versions.node,
      }),
    )
    .merge(resourceFromAttributes(attributes));
  if (serviceName) resource = resource.merge(resourceFromAttributes({ 'service.name': serviceName }));
  return resource;
}
