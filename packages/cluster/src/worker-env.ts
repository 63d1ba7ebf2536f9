/**
 * What a worker does not inherit from the supervisor's environment. Whatever is in a worker's
 * `process.env` is readable by every dependency of the app and ends up in crash reports and env
 * dumps, so the supervisor's own settings and secrets stay behind:
 *
 * - every `RELOADSCOPE_CLUSTER_*` variable: the supervisor's namespace (the HTTP trigger's token
 *   and port). The variables the worker side needs are set per worker afterwards (protocol.ts);
 * - every variable whose value holds one of `secrets` (the HTTP trigger's token given to
 *   `superviseCluster()`), under whatever name it reached the supervisor.
 *
 * This keeps secrets out of what the app is handed; it is no barrier against the app itself,
 * which runs as the same user and could read the supervisor's /proc/<pid>/environ.
 */
export const SUPERVISOR_ENV_PREFIX = 'RELOADSCOPE_CLUSTER_';

/**
 * The withheld variables as `{ name: undefined }`, to spread first into `cluster.fork(env)`: fork
 * merges `process.env` under the env it is given, and child_process leaves out a variable whose
 * value is undefined.
 */
export function withheldEnv(env: NodeJS.ProcessEnv, secrets: ReadonlyArray<string | undefined>): Record<string, undefined> {
  const kept = secrets.filter((s): s is string => typeof s === 'string' && s.length > 0);
  const out: Record<string, undefined> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(SUPERVISOR_ENV_PREFIX) || (value !== undefined && kept.some((secret) => value.includes(secret)))) out[name] = undefined;
  }
  return out;
}
