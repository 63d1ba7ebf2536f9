export {
  enableNodeProbes,
  type NodeProbesConfig,
  type ObservableReloads,
  type ProbeName,
  RESOURCES_SKIPPED,
  ReloadNodeProbes,
} from './node-probes.ts';
export { EventLoopMonitor } from './event-loop-monitor.ts';
export { RetainedVersions } from './retained-versions.ts';
export {
  countActiveResources,
  diffResources,
  diffSnapshots,
  type ResourceCounts,
  type ResourceSnapshot,
  snapshotActiveResources,
} from './active-resources.ts';
export { PACKAGE_NAME, PACKAGE_VERSION } from './version.ts';
