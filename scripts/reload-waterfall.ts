/**
 * Renders reload traces as text: one line per run (time, target, trigger, outcome, error.type,
 * duration, generation, trace id), and under it a waterfall of its stages whose bars are placed and
 * sized relative to the run's own duration, so where the time went is visible at a glance.
 */
import type { ReloadTrace, StageSpan } from './reload-traces.ts';

/** Applies a terminal style (node:util styleText formats) or returns the text as is. */
export type Style = (format: 'red' | 'green' | 'yellow' | 'dim' | 'bold', text: string) => string;

export interface WaterfallOptions {
  /** Columns of the bar area. */
  width?: number;
  style?: Style;
}

const plain: Style = (_format, text) => text;

export const ms = (ns: bigint) => {
  const n = Number(ns) / 1e6;
  return `${n < 10 ? n.toFixed(1) : Math.round(n)}ms`;
};

const OUTCOME_STYLE: Record<string, Parameters<Style>[0]> = {
  success: 'green',
  unchanged: 'dim',
  failure: 'red',
  timeout: 'red',
  rollback: 'yellow',
};

/** Whole cells [offset, offset + length) of a stage in a bar of `width` cells; at least one cell. */
export function barCells(run: ReloadTrace, stage: StageSpan, width: number): { offset: number; length: number } {
  const total = Number(run.endNs - run.startNs);
  if (total <= 0) return { offset: 0, length: 1 };
  const from = Math.min(width - 1, Math.max(0, Math.floor((Number(stage.startNs - run.startNs) / total) * width)));
  const to = Math.min(width, Math.max(from + 1, Math.round((Number(stage.endNs - run.startNs) / total) * width)));
  return { offset: from, length: to - from };
}

/** The runs in time order (oldest first, so the newest is next to the prompt). */
export function renderWaterfall(runs: ReloadTrace[], { width = 40, style = plain }: WaterfallOptions = {}): string {
  const ordered = [...runs].sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
  const targetWidth = Math.max(0, ...ordered.map((r) => r.target.length));
  const errorWidth = Math.max(0, ...ordered.map((r) => r.errorType?.length ?? 0));
  const stageWidth = Math.max(6, ...ordered.flatMap((r) => r.stages.map((s) => s.stage.length)));
  const lines: string[] = [];
  for (const run of ordered) {
    const time = new Date(Number(run.startNs / 1_000_000n)).toISOString().replace('T', ' ');
    const outcome = style(OUTCOME_STYLE[run.outcome] ?? 'bold', run.outcome.padEnd(9));
    const head = [
      time,
      style('bold', run.target.padEnd(targetWidth)),
      run.trigger.padEnd(7),
      outcome,
      ...(errorWidth > 0 ? [(run.errorType ?? '').padEnd(errorWidth)] : []),
      ms(run.endNs - run.startNs).padStart(7),
      ...(run.generation === undefined ? [] : [`gen ${run.generation}`]),
      style('dim', `trace ${run.traceId}`),
    ];
    lines.push(head.join('  '));
    for (const stage of run.stages) {
      const { offset, length } = barCells(run, stage, width);
      const bar = ' '.repeat(offset) + '█'.repeat(length) + ' '.repeat(width - offset - length);
      const mark = stage.failed ? '✗' : ' ';
      const tail = stage.failed && stage.errorType ? `  ${stage.errorType}` : '';
      const row = `    ${stage.stage.padEnd(stageWidth)} ${mark} │${bar}│ ${ms(stage.endNs - stage.startNs).padStart(7)}${tail}`;
      lines.push(stage.failed ? style('red', row) : row);
    }
  }
  return lines.join('\n');
}
