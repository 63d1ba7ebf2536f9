/**
 * The Helm chart (collector/chart) ships copies of files whose one source lives elsewhere in the repo:
 * Helm can only read files inside the chart. `node scripts/gen-chart.ts` writes the copies,
 * `--check` (part of `npm run docs:check`) and test/collector/chart.test.ts fail when one has drifted.
 */
import { readFileSync } from 'node:fs';

/** chart/files/<copy> ← <source>, both relative to the repository root. */
export const CHART_COPIES: ReadonlyArray<{ source: string; copy: string }> = [
  { source: 'collector/otel-collector.yaml', copy: 'collector/chart/files/otel-collector.yaml' },
  { source: 'collector/fleet/agent.yaml', copy: 'collector/chart/files/agent.yaml' },
  { source: 'collector/fleet/agent-kubernetes.yaml', copy: 'collector/chart/files/agent-kubernetes.yaml' },
  { source: 'collector/fleet/gateway.yaml', copy: 'collector/chart/files/gateway.yaml' },
  { source: 'collector/prometheus/rules/hotreload.rules.yml', copy: 'collector/chart/files/hotreload.rules.yml' },
  { source: 'collector/grafana/dashboards/reloadscope.json', copy: 'collector/chart/files/reloadscope.json' },
  { source: 'examples/config-service/config.yaml', copy: 'collector/chart/files/config-service.yaml' },
];

/** The copies whose bytes differ from their source (or that are missing). */
export function staleCopies(root: URL): string[] {
  const read = (p: string) => {
    try {
      return readFileSync(new URL(p, root));
    } catch {
      return undefined;
    }
  };
  return CHART_COPIES.filter(({ source, copy }) => {
    const a = read(source);
    const b = read(copy);
    return a === undefined || b === undefined || !a.equals(b);
  }).map((c) => c.copy);
}
