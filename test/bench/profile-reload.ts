/**
 * A steady loop of one variant, for CPU profiles of the hot path:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof test/bench/profile-reload.ts <variant> [seconds]
 * variants: full | noprobes | disabled | hand | config | config-noprobes | config-disabled | config-hand
 * (config-hand: section 2's target baseline, readFile + sha256 + JSON.parse + swap hand-instrumented)
 * Then summarise: node test/bench/profile-summary.ts /tmp/prof/<file>.cpuprofile
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { watchConfig } from '@reloadscope/config';
import { sha256Hex } from '@reloadscope/core';
import { turnOfTheLoop } from './lib/bench.ts';
import { configJson, tempDir } from './lib/fixtures.ts';
import { handInstrumentedReloader } from './lib/hand-instrumented.ts';
import { fullWiring } from './lib/otel.ts';

const [variant = 'full', secondsArg = '5'] = process.argv.slice(2);
const seconds = Number(secondsArg);
const VERSIONS = ['a', 'b'].map((v, n) => ({ identity: { hash: sha256Hex(v), version: v }, payload: { n } }));
type Candidate = (typeof VERSIONS)[number];

async function main(): Promise<void> {
  const wiring = fullWiring();
  let i = 0;
  let active: Candidate | undefined;
  const stages = {
    load: async () => VERSIONS[i++ & 1]!,
    verify: async () => {},
    switch: async (c: Candidate) => {
      const previous = active;
      active = c;
      return previous;
    },
    unload: async () => {},
    identify: (c: Candidate) => c.identity,
  };
  let once: () => Promise<unknown>;
  switch (variant) {
    case 'full':
    case 'noprobes':
    case 'disabled': {
      // RELOADSCOPE_BENCH_PROBES_OFF=heap,resources switches single probes off, to attribute the probes' cost.
      const off = (process.env.RELOADSCOPE_BENCH_PROBES_OFF ?? '').split(',').filter(Boolean);
      const probes = variant === 'full' && { probes: Object.fromEntries(off.map((name) => [name, false])) };
      const { reloads } = wiring.instrument({ probes, config: { enabled: variant !== 'disabled' } });
      once = () => reloads.reload({ target: 'profile', trigger: 'api' }, stages);
      break;
    }
    case 'hand': {
      const hand = handInstrumentedReloader(wiring.tracer('hand'), wiring.meter('hand'), 'profile');
      once = () => hand(stages, stages.identify);
      break;
    }
    case 'config':
    case 'config-noprobes':
    case 'config-disabled': {
      const file = join(tempDir('profile'), 'app.json');
      writeFileSync(file, configJson(14 * 1024));
      const { reloads } = wiring.instrument({ probes: variant === 'config', config: { enabled: variant !== 'config-disabled' } });
      const watcher = await watchConfig({ path: file, format: 'json', instrumentation: reloads, watch: false, signal: false });
      once = () => watcher.reload({ trigger: 'api', force: true });
      break;
    }
    case 'config-hand': {
      const file = join(tempDir('profile'), 'app.json');
      writeFileSync(file, configJson(14 * 1024));
      const hand = handInstrumentedReloader(wiring.tracer('hand'), wiring.meter('hand'), 'profile');
      let current: { hash: string; value: unknown } | undefined;
      // The same stages as sections/config-share.ts's hand-instrumented variant.
      const fileStages = {
        load: async () => {
          const bytes = await readFile(file);
          return { hash: createHash('sha256').update(bytes).digest('hex'), value: JSON.parse(bytes.toString('utf8')) as unknown };
        },
        verify: async () => {},
        switch: async (c: { hash: string; value: unknown }) => {
          const previous = current;
          current = c;
          return previous;
        },
        unload: async () => {},
      };
      once = () => hand(fileStages, (c) => ({ hash: c.hash }));
      break;
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
  let gcMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const cpu0 = process.cpuUsage();
  const end = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    await once();
    if (++n % 20 === 0) await turnOfTheLoop(); // as in the benchmark: deferred work is paid here
  }
  const cpu = process.cpuUsage(cpu0);
  gcObserver.disconnect();
  const per = (us: number) => (us / n).toFixed(1);
  console.log(`${variant}: ${n} reloads, ${per(seconds * 1e6)} µs wall, ${per(cpu.user + cpu.system)} µs CPU, ${per(gcMs * 1000)} µs GC pause per reload`);
  await wiring.shutdown();
  process.exit(0);
}

void main();
