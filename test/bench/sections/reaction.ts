/**
 * Issue 15, reaction latency: from a change on disk to the new version active, for an in-place
 * write, an atomic rename and a Kubernetes ConfigMap `..data` swap. @reloadscope/config's
 * watchConfig (default debounce, full wiring + probes) against the hand-rolled alternative most
 * services use: chokidar + readFile + JSON.parse, once with no debounce and once with a trailing
 * debounce equal to watchConfig's default (the comparison the target is judged on).
 *
 * All watchers watch the same files in one process and see the same changes: change i is made
 * once every watcher has seen change i-1 (or given up on it), so consecutive changes are always
 * further apart than the debounce. A watcher "sees" change i when its active value has seq ≥ i.
 */
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { debounce, watchConfig } from '@reloadscope/config';
import { watch as chokidarWatch } from 'chokidar';
import { configJson, tempDir } from '../lib/fixtures.ts';
import { fullWiring } from '../lib/otel.ts';
import { runSection, type SectionOptions, type SectionResult } from '../lib/section.ts';
import { formatSummary, quantile, summarize } from '../lib/stats.ts';

const DEFAULT_DEBOUNCE_MS = 200; // watchConfig's default (packages/config/src/watch.ts)
const MODES = ['in-place write', 'atomic rename', 'ConfigMap ..data swap'] as const;
type Mode = (typeof MODES)[number];
const WATCHERS = {
  reloadscope: `watchConfig (default debounce ${DEFAULT_DEBOUNCE_MS} ms)`,
  chokidarDebounced: `chokidar + readFile + JSON.parse, ${DEFAULT_DEBOUNCE_MS} ms trailing debounce`,
  chokidarRaw: 'chokidar + readFile + JSON.parse, no debounce',
} as const;
type WatcherName = (typeof WATCHERS)[keyof typeof WATCHERS];
/** A change not seen within this is a miss; after 3 misses in a row a watcher is given up for the mode. */
const MISS_MS = 2_000;

const body = configJson(14 * 1024).slice(1);
const textOf = (seq: number) => `{"seq":${seq},${body}`;

interface Layout {
  /** What watchConfig is given (a file, or the ConfigMap directory). */
  watchPath: string;
  /** The path a hand-rolled watcher watches and reads. */
  file: string;
  change(seq: number): void;
}

function layout(root: string, mode: Mode): Layout {
  const dir = join(root, mode.replace(/\W+/g, '-'));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'app.json');
  if (mode === 'in-place write') {
    writeFileSync(file, textOf(0));
    return { watchPath: file, file, change: (seq) => writeFileSync(file, textOf(seq)) };
  }
  if (mode === 'atomic rename') {
    writeFileSync(file, textOf(0));
    return {
      watchPath: file,
      file,
      change: (seq) => {
        writeFileSync(`${file}.tmp`, textOf(seq));
        renameSync(`${file}.tmp`, file);
      },
    };
  }
  // What the kubelet does: a new timestamped directory, `..data` swapped to it by rename, the old one removed.
  const version = (seq: number) => `..v${seq}`;
  mkdirSync(join(dir, version(0)));
  writeFileSync(join(dir, version(0), 'app.json'), textOf(0));
  symlinkSync(version(0), join(dir, '..data'));
  symlinkSync(join('..data', 'app.json'), file);
  return {
    watchPath: dir,
    file,
    change: (seq) => {
      mkdirSync(join(dir, version(seq)));
      writeFileSync(join(dir, version(seq), 'app.json'), textOf(seq));
      symlinkSync(version(seq), join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      rmSync(join(dir, version(seq - 1)), { recursive: true, force: true });
    },
  };
}

interface Tracker {
  /** Latest seq this watcher has made active. */
  seq: number;
  /** Called with every newly active seq. */
  onSeq?: (seq: number) => void;
  /** Reads that did not parse (a torn or empty file). */
  badReads: number;
}

async function reaction(options: SectionOptions): Promise<SectionResult> {
  const changes = options.quick ? 10 : 200;
  const root = tempDir('reaction');
  const wiring = fullWiring();
  const results: Record<Mode, Record<WatcherName, { latencies: number[]; misses: number; badReads: number }>> = {} as never;

  for (const mode of MODES) {
    const l = layout(root, mode);
    const trackers = new Map<WatcherName, Tracker>();
    const note = (name: WatcherName, seq: number) => {
      const t = trackers.get(name)!;
      if (seq <= t.seq) return;
      t.seq = seq;
      t.onSeq?.(seq);
    };

    const { reloads } = wiring.instrument({ probes: true });
    const config = await watchConfig<{ seq: number }>({ path: l.watchPath, format: 'json', instrumentation: reloads, target: `reaction-${MODES.indexOf(mode)}`, signal: false });
    trackers.set(WATCHERS.reloadscope, { seq: config.current.seq, badReads: 0 });
    config.onChange((next) => note(WATCHERS.reloadscope, next.seq));

    const handRolled = async (name: WatcherName, debounceMs: number) => {
      trackers.set(name, { seq: 0, badReads: 0 });
      const read = async () => {
        try {
          note(name, (JSON.parse(await readFile(l.file, 'utf8')) as { seq: number }).seq);
        } catch {
          trackers.get(name)!.badReads++;
        }
      };
      const onEvent = debounceMs > 0 ? debounce(() => void read(), debounceMs, 2_000).trigger : () => void read();
      const w = chokidarWatch(l.file, { ignoreInitial: true });
      w.on('add', onEvent).on('change', onEvent);
      await new Promise<void>((resolve) => w.once('ready', () => resolve()));
      return w;
    };
    const raw = await handRolled(WATCHERS.chokidarRaw, 0);
    const debounced = await handRolled(WATCHERS.chokidarDebounced, DEFAULT_DEBOUNCE_MS);

    const out = Object.fromEntries(Object.values(WATCHERS).map((n) => [n, { latencies: [] as number[], misses: 0, badReads: 0 }])) as Record<
      WatcherName,
      { latencies: number[]; misses: number; badReads: number }
    >;
    const missesInARow = new Map<WatcherName, number>();
    await new Promise((resolve) => setTimeout(resolve, 300)); // watchers settled
    for (let seq = 1; seq <= changes; seq++) {
      const waiting = [...trackers.keys()].filter((n) => (missesInARow.get(n) ?? 0) < 3);
      const seen = waiting.map(
        (name) =>
          new Promise<void>((resolve) => {
            const t = trackers.get(name)!;
            const timer = setTimeout(() => {
              t.onSeq = undefined;
              out[name].misses++;
              missesInARow.set(name, (missesInARow.get(name) ?? 0) + 1);
              resolve();
            }, MISS_MS);
            t.onSeq = (s) => {
              if (s < seq) return;
              clearTimeout(timer);
              t.onSeq = undefined;
              out[name].latencies.push(performance.now() - t0);
              missesInARow.set(name, 0);
              resolve();
            };
          }),
      );
      l.change(seq);
      const t0 = performance.now();
      await Promise.all(seen);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const name of Object.values(WATCHERS)) out[name].misses += changes - out[name].latencies.length - out[name].misses;
    for (const [name, t] of trackers) out[name].badReads = t.badReads;
    await raw.close();
    await debounced.close();
    await config.close();
    results[mode] = out;
  }
  await wiring.shutdown();

  const rows = [];
  const targets = [];
  const data: Record<string, unknown> = { changes, debounceMs: DEFAULT_DEBOUNCE_MS, missAfterMs: MISS_MS };
  for (const mode of MODES) {
    const r = results[mode];
    const p = (name: WatcherName, q: number) => quantile(r[name].latencies, q);
    const rs = r[WATCHERS.reloadscope];
    if (rs.latencies.length === 0) throw new Error(`watchConfig saw none of the ${mode} changes`);
    for (const name of Object.values(WATCHERS)) {
      const x = r[name];
      rows.push({
        measurement: `${mode}: ${name}`,
        value: x.latencies.length ? `p50 ${p(name, 0.5).toFixed(1)} ms, p99 ${p(name, 0.99).toFixed(1)} ms` : 'saw no change',
        vsBaseline:
          name === WATCHERS.chokidarDebounced
            ? 'baseline'
            : x.latencies.length && r[WATCHERS.chokidarDebounced].latencies.length
              ? `p99 ${(p(name, 0.99) / p(WATCHERS.chokidarDebounced, 0.99)).toFixed(2)}×`
              : '',
        note: `${x.latencies.length}/${changes} seen, ${x.misses} missed${x.badReads ? `, ${x.badReads} reads did not parse` : ''}${
          x.latencies.length ? `; spread ${formatSummary(summarize(x.latencies), 1, ' ms')}` : ''
        }`,
      });
    }
    const base = r[WATCHERS.chokidarDebounced];
    const baseP99 = base.latencies.length === changes ? p(WATCHERS.chokidarDebounced, 0.99) : Number.POSITIVE_INFINITY;
    targets.push({
      name: `reaction p99, ${mode}`,
      goal: `≤ chokidar + readFile + parse at the same ${DEFAULT_DEBOUNCE_MS} ms debounce`,
      measured: `${p(WATCHERS.reloadscope, 0.99).toFixed(1)} ms vs ${base.latencies.length ? `${p(WATCHERS.chokidarDebounced, 0.99).toFixed(1)} ms` : 'none seen'}${
        base.misses ? ` (chokidar missed ${base.misses}/${changes})` : ''
      }; debounce = ${((DEFAULT_DEBOUNCE_MS / p(WATCHERS.reloadscope, 0.5)) * 100).toFixed(0)} % of watchConfig's p50`,
      met: rs.misses === 0 && p(WATCHERS.reloadscope, 0.99) <= baseP99,
    });
    data[mode] = Object.fromEntries(
      Object.values(WATCHERS).map((name) => [
        name,
        {
          p50Ms: p(name, 0.5),
          p99Ms: p(name, 0.99),
          summaryMs: r[name].latencies.length ? summarize(r[name].latencies) : undefined,
          seen: r[name].latencies.length,
          misses: r[name].misses,
          badReads: r[name].badReads,
        },
      ]),
    );
  }
  return {
    id: 'reaction',
    title: `9. Reaction latency: change on disk → new version active (${changes} changes per mode, 14 KiB JSON)`,
    rows,
    targets,
    data,
    notes: [
      `the debounce is a floor: with the default ${DEFAULT_DEBOUNCE_MS} ms every debounced watcher waits that long after the last event; lower it with watch: { debounceMs }`,
      'all watchers run in one process on the same files; a watcher that missed 3 changes in a row is not waited for again in that mode (its remaining changes count as missed)',
    ],
  };
}

runSection(reaction);
