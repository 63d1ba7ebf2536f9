/**
 * Harness for tests that run the real telemetry stack (Collector, Jaeger v2, Prometheus) and real
 * services as child processes. The process, port and readiness logic is the one `npm run stack` uses
 * (scripts/stack-processes.ts, the port plan of scripts/stack-ports.ts, the config wiring of
 * scripts/stack-wiring.ts); this file adds what only tests need.
 */
export {
  COLLECTOR_DIR,
  freePorts,
  getJson,
  getText,
  type ManagedProcess,
  REPO_ROOT,
  StackProcesses as Harness,
  stackBinaries,
  stackCacheDir,
  tail,
  type WaitOptions,
} from '../../scripts/stack-processes.ts';

/** Metric names (sample lines, not # comments) of a Prometheus text exposition that start with `prefix`. */
export function exposedNames(exposition: string, prefix: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(prefix)) continue;
    const match = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (match) names.add(match[0]);
  }
  return names;
}
