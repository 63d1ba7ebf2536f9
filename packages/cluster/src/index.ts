export { superviseCluster, type SuperviseOptions, type ClusterSupervisor } from './supervisor.ts';
export { type ClusterOptions, DEFAULT_TARGET } from './options.ts';
export { ClusterError, CLUSTER_ERROR_CODES, type ClusterErrorCode } from './errors.ts';
export type { Release } from './release.ts';
export type { WorkerState } from './workers.ts';
