/**
 * Issue 15, start-up: what `node --import @reloadscope/register app.js` adds to a process start,
 * against a hand-written SDK boot with the same exporters (`startup-hand.mjs`: OTLP/HTTP traces
 * in batches, a Prometheus endpoint) and against plain `node`. Each sample is a fresh process
 * running `startup-app.mjs`; the modes alternate within every round. App and boot are plain
 * JavaScript, as register's own dist is: a `.ts` file anywhere makes Node load its type stripper,
 * and when that happens moves peak RSS by megabytes (the same hand-written boot measured 3.5 MiB
 * less as a `.ts` file than as `.mjs`, with a `.ts` app in both), which is not what is compared. Wall time is from process
 * start to the application's first turn of the loop (everything `--import` did before it);
 * peak RSS is taken there and again 300 ms later ("settled": after deferred loading).
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSection, type SectionOptions, type SectionResult } from '../lib/section.ts';
import { formatBytes, formatSummary, rotate, summarize } from '../lib/stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const APP = join(here, 'startup-app.mjs');
const MODES = {
  bare: { name: 'node app (no telemetry)', args: [] as string[], env: {} },
  hand: { name: 'node --import hand-written SDK boot (OTLP/HTTP batch traces + Prometheus)', args: ['--import', join(here, 'startup-hand.mjs')], env: {} },
  register: { name: 'node --import @reloadscope/register (defaults)', args: ['--import', '@reloadscope/register'], env: {} },
  registerLean: {
    name: 'node --import @reloadscope/register, RELOADSCOPE_RUNTIME_METRICS=false',
    args: ['--import', '@reloadscope/register'],
    env: { RELOADSCOPE_RUNTIME_METRICS: 'false' },
  },
} as const;
type ModeId = keyof typeof MODES;

interface Sample {
  readyMs: number;
  readyRssKiB: number;
  settledRssKiB: number;
}

function startOnce(mode: ModeId): Promise<Sample> {
  const m = MODES[mode];
  const env = {
    ...process.env,
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    OTEL_EXPORTER_PROMETHEUS_PORT: '0',
    // Nothing listens there: the process exits long before the first batch would be exported.
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces',
    OTEL_SERVICE_NAME: 'startup-bench',
    ...m.env,
  };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...m.args, APP], { env, cwd: here }, (err, stdout) => {
      if (err) return reject(err);
      resolve(JSON.parse(stdout) as Sample);
    });
  });
}

async function startup(options: SectionOptions): Promise<SectionResult> {
  const rounds = options.quick ? 3 : 25;
  const ids = Object.keys(MODES) as ModeId[];
  const wall: Record<ModeId, number[]> = { bare: [], hand: [], register: [], registerLean: [] };
  const rss: Record<ModeId, number[]> = { bare: [], hand: [], register: [], registerLean: [] };
  const settled: Record<ModeId, number[]> = { bare: [], hand: [], register: [], registerLean: [] };
  for (const id of ids) await startOnce(id); // warm the file cache
  for (let round = 0; round < rounds; round++) {
    for (const id of rotate(ids, round)) {
      const r = await startOnce(id);
      wall[id].push(r.readyMs);
      rss[id].push(r.readyRssKiB);
      settled[id].push(r.settledRssKiB);
    }
  }
  const ratio = (id: ModeId) => summarize(wall[id].map((x, i) => x / wall.hand[i]!));
  const extraRss = (id: ModeId) => summarize(rss[id].map((x, i) => (x - rss.hand[i]!) * 1024));
  const extraSettled = (id: ModeId) => summarize(settled[id].map((x, i) => (x - settled.hand[i]!) * 1024));
  const rows = ids.map((id) => ({
    measurement: MODES[id].name,
    value: `${formatSummary(summarize(wall[id]), 0, ' ms')} to ready, peak RSS ${formatBytes(summarize(rss[id]).median * 1024)} (settled ${formatBytes(summarize(settled[id]).median * 1024)})`,
    vsBaseline:
      id === 'hand' ? 'baseline' : `${formatSummary(ratio(id), 2)}× wall, ${formatBytes(extraRss(id).median)} RSS (settled ${formatBytes(extraSettled(id).median)})`,
    note: id === 'bare' ? 'node itself' : '',
  }));
  const reg = ratio('register');
  const regRss = extraRss('register');
  return {
    id: 'startup',
    title: `10. Start-up: --import cost, a fresh process per sample (${rounds} rounds)`,
    rows,
    targets: [
      { name: 'start-up wall time vs hand-written SDK boot', goal: '≤ 1.10×', measured: `${formatSummary(reg, 2)}×`, met: reg.median <= 1.1 },
      {
        name: 'start-up peak RSS vs hand-written SDK boot',
        goal: '≤ +2 MiB',
        measured: `${formatBytes(regRss.median)} (${formatBytes(regRss.min)} to ${formatBytes(regRss.max)}); settled ${formatBytes(extraSettled('register').median)}`,
        met: regRss.median <= 2 * 1024 * 1024,
      },
    ],
    data: {
      rounds,
      wallMs: Object.fromEntries(ids.map((id) => [id, summarize(wall[id])])),
      readyRssKiB: Object.fromEntries(ids.map((id) => [id, summarize(rss[id])])),
      settledRssKiB: Object.fromEntries(ids.map((id) => [id, summarize(settled[id])])),
      extraSettledRssBytesVsHand: Object.fromEntries(ids.map((id) => [id, extraSettled(id)])),
      ratioVsHand: Object.fromEntries(ids.map((id) => [id, ratio(id)])),
      extraRssBytesVsHand: Object.fromEntries(ids.map((id) => [id, extraRss(id)])),
    },
    notes: ['register also starts the node probes and (by default) @opentelemetry/instrumentation-runtime-node, which the hand-written boot does not'],
  };
}

runSection(startup);
