/**
 * `npm run bench [-- --quick] [-- --only overhead,hashing]`
 *
 * Runs every section in its own Node process, prints one table of medians, spreads and ratios
 * against each section's baseline, checks the issue's targets, and writes the JSON summary to
 * test/bench/results/latest.json (quick.json for --quick, partial.json for --only). Asserts nothing about time: a missed target is reported, not
 * failed. The exit code is non-zero only when the harness itself broke (a section crashed or
 * its self-checks failed), which is what quick mode in CI is for.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { environment } from './lib/environment.ts';
import type { SectionResult } from './lib/section.ts';
import { renderReport } from './lib/report.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Section id → script and the extra Node flags it needs. */
const SECTIONS: Array<{ id: string; script: string; execArgv?: string[] }> = [
  { id: 'overhead', script: 'sections/overhead.ts' },
  { id: 'config-share', script: 'sections/config-share.ts' },
  { id: 'memory', script: 'sections/memory.ts', execArgv: ['--expose-gc'] },
  { id: 'hashing', script: 'sections/hashing.ts' },
  { id: 'storm', script: 'sections/storm.ts' },
  { id: 'eventloop', script: 'sections/eventloop.ts' },
  { id: 'per-request', script: 'sections/per-request.ts' },
  { id: 'scrape', script: 'sections/scrape.ts' },
  { id: 'reaction', script: 'sections/reaction.ts' },
  { id: 'startup', script: 'sections/startup.ts' },
  { id: 'reload-vs-pm2', script: 'sections/reload-vs-pm2.ts' },
];

function parseArgs(argv: readonly string[]) {
  const quick = argv.includes('--quick');
  const onlyArg = argv.find((a) => a.startsWith('--only'));
  const onlyValue = onlyArg?.includes('=') ? onlyArg.split('=')[1] : onlyArg ? argv[argv.indexOf(onlyArg) + 1] : undefined;
  const only = onlyValue ? new Set(onlyValue.split(',')) : undefined;
  const unknown = only ? [...only].filter((id) => !SECTIONS.some((s) => s.id === id)) : [];
  if (unknown.length > 0) throw new Error(`unknown section(s): ${unknown.join(', ')}; known: ${SECTIONS.map((s) => s.id).join(', ')}`);
  return { quick, only };
}

function runSectionProcess(script: string, execArgv: string[], quick: boolean): Promise<SectionResult> {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, script), quick ? ['--quick'] : [], {
      execArgv: [...process.execArgv, ...execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: SectionResult | undefined;
    child.on('message', (m: { type?: string; result?: SectionResult }) => {
      if (m.type === 'result') result = m.result;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (result && code === 0) resolve(result);
      else reject(new Error(`${script} exited with ${signal ?? `code ${code}`}${result ? '' : ' before reporting a result'}`));
    });
  });
}

async function main(): Promise<void> {
  const { quick, only } = parseArgs(process.argv.slice(2));
  const env = environment();
  const started = performance.now();
  const results: SectionResult[] = [];
  const failures: Array<{ id: string; error: string }> = [];
  for (const section of SECTIONS) {
    if (only && !only.has(section.id)) continue;
    const t0 = performance.now();
    const load = Number(loadavg()[0]!.toFixed(2));
    process.stderr.write(`bench: ${section.id}${quick ? ' (quick)' : ''}…\n`);
    try {
      const r = await runSectionProcess(section.script, section.execArgv ?? [], quick);
      r.data.sectionSeconds = Number(((performance.now() - t0) / 1000).toFixed(1));
      // Other processes on the machine are the main source of noise: show how busy it was.
      r.data.loadAverageAtStart = load;
      results.push(r);
    } catch (err) {
      failures.push({ id: section.id, error: err instanceof Error ? err.message : String(err) });
    }
  }
  const totalSeconds = (performance.now() - started) / 1000;
  console.log(renderReport(results, env, { quick, totalSeconds, failures }));

  // latest.json is the last full run: a quick or partial run must not replace its numbers.
  const out = join(here, 'results', quick ? 'quick.json' : only ? 'partial.json' : 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  const summary = { generatedAt: new Date().toISOString(), quick, totalSeconds: Number(totalSeconds.toFixed(1)), environment: env, sections: results, failures };
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`\nJSON summary: ${out}`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
