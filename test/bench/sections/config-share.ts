/**
 * Issue 6, item 2: what instrumentation adds to a real reload. A 14 KB JSON config reloaded
 * through @reloadscope/config (full wiring), through @reloadscope/config with the instrumentation
 * disabled (same reloader, no spans/metrics/probes), and by hand (read + sha256 + parse + swap).
 * The instrumentation's share is (full − disabled) / full; what the whole package adds over the
 * hand-written reload is (full − hand) / full.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { watchConfig } from '@reloadscope/config';
import { ReloadInstrumentation } from '@reloadscope/core';
import { runRounds, type Variant } from '../lib/bench.ts';
import { configJson, tempDir } from '../lib/fixtures.ts';
import { fullWiring } from '../lib/otel.ts';
import { runSection, type SectionOptions, type SectionResult } from '../lib/section.ts';
import { formatSummary, summarize } from '../lib/stats.ts';

const NAMES = {
  full: '@reloadscope/config reload(), full wiring + probes',
  disabled: '@reloadscope/config reload(), instrumentation disabled',
  hand: 'by hand: readFile + sha256 + JSON.parse + swap',
} as const;

async function configShare(options: SectionOptions): Promise<SectionResult> {
  const dir = tempDir('config');
  const file = join(dir, 'app.json');
  const text = configJson(14 * 1024);
  await writeFile(file, text);
  const wiring = fullWiring();
  const batch = 5;

  const { reloads } = wiring.instrument({ probes: true });
  const full = await watchConfig({ path: file, format: 'json', instrumentation: reloads, target: 'bench-config', watch: false, signal: false });
  const disabled = await watchConfig({
    path: file,
    format: 'json',
    instrumentation: new ReloadInstrumentation({ enabled: false }),
    target: 'bench-config-off',
    watch: false,
    signal: false,
  });
  let handActive: { value: unknown; hash: string } | undefined;
  let reloadsDone = 0;

  const viaConfig = (name: string, watcher: typeof full): Variant => ({
    name,
    fn: async () => {
      for (let k = 0; k < batch; k++) {
        // force: the content is the same every time, and an `unchanged` run would skip switch/unload.
        const r = await watcher.reload({ trigger: 'api', force: true });
        if (r.outcome !== 'success') throw new Error(`${name}: reload ended ${r.outcome}`);
      }
      if (watcher === full) reloadsDone += batch;
    },
  });
  const variants: Variant[] = [
    viaConfig(NAMES.full, full),
    viaConfig(NAMES.disabled, disabled),
    {
      name: NAMES.hand,
      fn: async () => {
        for (let k = 0; k < batch; k++) {
          const bytes = await readFile(file);
          const hash = createHash('sha256').update(bytes).digest('hex');
          const value: unknown = JSON.parse(bytes.toString('utf8'));
          handActive = { value, hash };
        }
      },
    },
  ];
  const result = await runRounds(variants, {
    rounds: options.quick ? 2 : 7,
    batch,
    timeMs: options.quick ? 200 : 800,
    warmupMs: options.quick ? 50 : 250,
  });

  // Self-checks: all three did the same work on the same bytes.
  if (handActive?.hash !== full.hash || full.hash !== disabled.hash) throw new Error('config variants disagree on the hash');
  if (JSON.stringify(full.current) !== JSON.stringify(handActive.value)) throw new Error('config variants disagree on the value');
  const recorded = await wiring.reader.total('hotreload.reloads', { 'hotreload.target': 'bench-config', 'hotreload.outcome': 'success' });
  if (recorded !== reloadsDone + 1) throw new Error(`hotreload.reloads recorded ${recorded}, expected ${reloadsDone + 1}`);
  await full.close();
  await disabled.close();
  await wiring.shutdown();

  const per = result.perRound;
  const s = (name: string) => summarize(per[name]!);
  const instrShare = summarize(per[NAMES.full]!.map((x, i) => ((x - per[NAMES.disabled]![i]!) / x) * 100));
  const packageShare = summarize(per[NAMES.full]!.map((x, i) => ((x - per[NAMES.hand]![i]!) / x) * 100));
  const vsHand = summarize(per[NAMES.full]!.map((x, i) => x / per[NAMES.hand]![i]!));
  const offVsHand = summarize(per[NAMES.disabled]!.map((x, i) => x / per[NAMES.hand]![i]!));
  return {
    id: 'config-share',
    title: `2. Share of a real reload (${(Buffer.byteLength(text) / 1024).toFixed(1)} KiB JSON config, per reload)`,
    rows: [
      {
        measurement: NAMES.full,
        value: `${formatSummary(s(NAMES.full), 1)} µs`,
        vsBaseline: `${formatSummary(vsHand, 2)}× hand; instrumentation ${formatSummary(instrShare, 1)} % of it`,
        note: `MAD ±${result.madPct[NAMES.full]!.toFixed(1)} %`,
      },
      {
        measurement: NAMES.disabled,
        value: `${formatSummary(s(NAMES.disabled), 1)} µs`,
        vsBaseline: `${formatSummary(offVsHand, 2)}× hand`,
        note: `MAD ±${result.madPct[NAMES.disabled]!.toFixed(1)} %`,
      },
      {
        measurement: NAMES.hand,
        value: `${formatSummary(s(NAMES.hand), 1)} µs`,
        vsBaseline: 'baseline',
        note: `MAD ±${result.madPct[NAMES.hand]!.toFixed(1)} %`,
      },
    ],
    targets: [
      {
        name: 'instrumentation share of a 14 KB config reload',
        goal: '≤ 5 %',
        measured: `${formatSummary(instrShare, 1)} % ((full − disabled) / full)`,
        met: instrShare.median <= 5,
      },
    ],
    data: {
      configBytes: Buffer.byteLength(text),
      perReloadMicroseconds: Object.fromEntries(Object.keys(per).map((k) => [k, s(k)])),
      instrumentationSharePct: instrShare,
      wholePackageSharePct: packageShare,
      ratioFullVsHand: vsHand,
      ratioDisabledVsHand: offVsHand,
      withinRoundMadPct: result.madPct,
      samples: result.samples,
    },
    notes: [
      `everything @reloadscope/config adds over the hand-written reload (instrumentation + reloader: capped streamed read, strict UTF-8, listeners, rollback bookkeeping): ${formatSummary(packageShare, 1)} % of the reload`,
    ],
  };
}

runSection(configShare);
