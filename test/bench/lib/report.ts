import type { environment } from './environment.ts';
import type { SectionResult } from './section.ts';

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export interface RunInfo {
  quick: boolean;
  totalSeconds: number;
  failures: Array<{ id: string; error: string }>;
}

export function renderReport(results: readonly SectionResult[], env: ReturnType<typeof environment>, run: RunInfo): string {
  const out: string[] = [];
  const pkgs = Object.entries(env.packages)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  out.push(`reloadscope benchmarks${run.quick ? ' (QUICK mode: harness check, numbers are indicative only)' : ''}`);
  out.push(`Node ${env.node} (V8 ${env.v8}, OpenSSL ${env.openssl}), ${env.platform}, ${env.cpu}, load avg at start ${env.loadAverageAtStart.join(' ')}`);
  out.push(pkgs);
  out.push('Values: median over rounds (min–max over rounds); ratios are taken within a round, then the median.');
  for (const r of results) {
    const load = r.data.loadAverageAtStart;
    out.push('', `## ${r.title}${typeof load === 'number' ? `  [load avg ${load} on ${env.cpu.split(' ')[0]} CPUs]` : ''}`);
    out.push(table(['measurement', 'value', 'vs baseline', 'note'], r.rows.map((row) => [row.measurement, row.value, row.vsBaseline, row.note ?? ''])));
    for (const note of r.notes) out.push(`  - ${note}`);
  }
  out.push('', '## Targets');
  const targetRows = results.flatMap((r) =>
    r.targets.map((t) => [r.id, t.name, t.goal, t.measured, t.met === undefined ? 'n/a' : t.met ? 'MET' : 'MISSED']),
  );
  out.push(table(['section', 'target', 'goal', 'measured', 'result'], targetRows));
  for (const f of run.failures) out.push(`SECTION FAILED: ${f.id}: ${f.error}`);
  out.push('', `Total bench time: ${run.totalSeconds.toFixed(1)} s`);
  return out.join('\n');
}
