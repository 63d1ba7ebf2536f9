import { defaultResource, detectResources, envDetector, hostDetector, type Resource, resourceFromAttributes } from '@opentelemetry/resources';

/**
 * The resource of everything reloadscope exports. envDetector reads OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES. The process detector is left out on purpose: process.command_args can
 * carry secrets (tokens passed as flags); pid and runtime are added by hand instead.
 */
export function buildResource(serviceName: string | undefined): Resource {
  let resource = defaultResource()
    .merge(detectResources({ detectors: [hostDetector, envDetector] }))
    .merge(
      resourceFromAttributes({
        'process.pid': process.pid,
        'process.runtime.name': 'nodejs',
        'process.runtime.version': process.versions.node,
      }),
    );
  if (serviceName) resource = resource.merge(resourceFromAttributes({ 'service.name': serviceName }));
  return resource;
}
