/**
 * The target cap (`maxTargets`) bounds every series that carries `hotreload_target`, whichever
 * package reports it: core's, config's bundle telemetry, the node probes. Each goes through the one
 * admission, core's, before it creates a series. Checked on a real scrape of a process that has
 * more reloaders than its caps admit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_MAX_TARGETS } from '@reloadscope/core';
import { type Sample, scrape, startApp } from './helpers.ts';

const ENV = {
  OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
  OTEL_EXPORTER_PROMETHEUS_PORT: '0',
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_SERVICE_NAME: 'target-cap-test',
  RELOADSCOPE_RUNTIME_METRICS: 'false',
};

/** For each hotreload_* series name, how many distinct targets starting with `prefix` it carries. */
function targetsPerSeries(samples: Sample[], prefix: string): Record<string, number> {
  const targets = new Map<string, Set<string>>();
  for (const s of samples) {
    const target = s.labels.hotreload_target;
    if (!s.name.startsWith('hotreload_') || !target?.startsWith(prefix)) continue;
    targets.set(s.name, (targets.get(s.name) ?? new Set()).add(target));
  }
  return Object.fromEntries([...targets].map(([name, set]) => [name, set.size]));
}

test('beyond maxTargets, no package adds a series for a refused target: the scrape names at most the cap', async (t) => {
  const app = await startApp(t, 'many-targets.mjs', ENV);
  const { outcomes, bundles, cap, capped, metricsUrl } = app.info as typeof app.info & {
    outcomes: Record<string, number>;
    bundles: number;
    cap: number;
    capped: number;
  };
  // config's shared bundle instrumentation admits DEFAULT_MAX_TARGETS roots; the capped one `cap` targets.
  assert.deepEqual(outcomes, {
    'shared-bundle:success': DEFAULT_MAX_TARGETS,
    'shared-bundle:failure:target_limit': bundles - DEFAULT_MAX_TARGETS,
    'capped-bundle:success': 2 * cap,
    'capped-bundle:failure:target_limit': 2 * (capped - cap),
    'capped-watch:refused:target_limit': capped,
  });
  const samples = await scrape(metricsUrl!);

  const shared = targetsPerSeries(samples, 'shared-');
  assert.ok(Object.keys(shared).length > 10, JSON.stringify(shared));
  for (const [name, n] of Object.entries(shared)) assert.equal(n, DEFAULT_MAX_TARGETS, `${name} carries ${n} bundle roots`);
  assert.equal(shared.hotreload_bundle_prune_failures_total, DEFAULT_MAX_TARGETS);

  // The capped instrumentation's bundles (and the node probes watching it) use up its cap; the
  // watchers that came after it have no series at all.
  const bundled = targetsPerSeries(samples, 'bundle-');
  for (const [name, n] of Object.entries(bundled)) assert.equal(n, cap, `${name} carries ${n} targets`);
  assert.equal(bundled.hotreload_bundle_prune_failures_total, cap);
  assert.equal(bundled.hotreload_retained_versions, cap, 'the node probes follow the same admission');
  assert.deepEqual(targetsPerSeries(samples, 'watched-'), {});
});
