/**
 * Interleaved rounds of tinybench: each round measures every variant once (in a rotated order),
 * and ratios are taken inside a round before the median over rounds is reported. A background
 * load spike then moves one round's numbers, not one variant's.
 */
import { Bench } from 'tinybench';
import { median, rotate, type Summary, summarize } from './stats.ts';

export interface Variant {
  name: string;
  /** One call performs `batch` operations. */
  fn: () => Promise<void>;
}

/**
 * One turn of the event loop. Reloads whose stages resolve on microtasks alone would otherwise
 * never let the loop turn inside a measurement, and work a product defers (setImmediate,
 * timers, finalizers, GC observers) would run between rounds, unmeasured. Every task ends with
 * this, so deferred work is paid inside the measurement by every variant alike.
 */
export const turnOfTheLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface RoundsOptions {
  rounds: number;
  /** Operations per task call; per-operation time = task latency / batch. */
  batch: number;
  timeMs: number;
  warmupMs: number;
}

export interface RoundsResult {
  /** Per-operation median latency (µs) of each variant, one entry per round. */
  perRound: Record<string, number[]>;
  /**
   * Per-operation process CPU time (user + system, µs; all threads: GC, libuv pool), averaged over
   * every call of the round. Unlike wall time it does not grow when other processes take the CPU.
   */
  cpuPerRound: Record<string, number[]>;
  /** Within-round relative median absolute deviation (%), per variant, median over rounds. */
  madPct: Record<string, number>;
  samples: Record<string, number>;
}

export async function runRounds(variants: readonly Variant[], options: RoundsOptions): Promise<RoundsResult> {
  const perRound: Record<string, number[]> = {};
  const cpuPerRound: Record<string, number[]> = {};
  const mads: Record<string, number[]> = {};
  const samples: Record<string, number> = {};
  for (const v of variants) {
    perRound[v.name] = [];
    cpuPerRound[v.name] = [];
    mads[v.name] = [];
    samples[v.name] = 0;
  }
  for (let round = 0; round < options.rounds; round++) {
    const bench = new Bench({ time: options.timeMs, warmupTime: options.warmupMs, warmupIterations: 5, iterations: 10 });
    const cpu = new Map<string, { micros: number; calls: number }>();
    for (const v of rotate(variants, round)) {
      const acc = { micros: 0, calls: 0 };
      cpu.set(v.name, acc);
      bench.add(
        v.name,
        async () => {
          const c0 = process.cpuUsage();
          await v.fn();
          await turnOfTheLoop();
          const d = process.cpuUsage(c0);
          acc.micros += d.user + d.system;
          acc.calls++;
        },
        { async: true },
      );
    }
    await bench.run();
    for (const task of bench.tasks) {
      const r = task.result;
      if (r.state === 'errored') throw r.error;
      if (r.state !== 'completed') throw new Error(`benchmark task ${task.name} ended ${r.state}`);
      const perOpUs = (r.latency.p50 * 1000) / options.batch;
      perRound[task.name]!.push(perOpUs);
      const acc = cpu.get(task.name)!;
      cpuPerRound[task.name]!.push(acc.micros / (acc.calls * options.batch));
      mads[task.name]!.push((r.latency.mad / r.latency.p50) * 100);
      samples[task.name]! += r.latency.samplesCount;
    }
  }
  const madPct: Record<string, number> = {};
  for (const [k, v] of Object.entries(mads)) madPct[k] = median(v);
  return { perRound, cpuPerRound, madPct, samples };
}

/** Per-round ratio a/b, summarised over rounds. */
export function ratioOverRounds(result: RoundsResult, a: string, b: string): Summary {
  const xs = result.perRound[a]!;
  const ys = result.perRound[b]!;
  return summarize(xs.map((x, i) => x / ys[i]!));
}
