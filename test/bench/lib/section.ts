/**
 * The contract between `run.ts` and each benchmark section. A section runs in its own Node
 * process (so JIT state, heap and timers of one measurement never leak into the next) and hands
 * its result back over the IPC channel.
 */

export interface Row {
  /** What was measured, e.g. "reloadscope reload() (full wiring)". */
  measurement: string;
  /** Median (and spread) as printed. */
  value: string;
  /** Ratio or share against the section's baseline, as printed ('' for the baseline itself). */
  vsBaseline: string;
  note?: string;
}

export interface TargetCheck {
  name: string;
  goal: string;
  measured: string;
  /** undefined when the measurement could not decide (printed as "n/a"). */
  met: boolean | undefined;
}

export interface SectionResult {
  id: string;
  title: string;
  rows: Row[];
  targets: TargetCheck[];
  /** Raw numbers for the JSON summary. */
  data: Record<string, unknown>;
  /** Free-form findings (e.g. a missed target's hot path). */
  notes: string[];
}

export interface SectionOptions {
  quick: boolean;
}

export function sectionOptions(argv: readonly string[] = process.argv.slice(2)): SectionOptions {
  return { quick: argv.includes('--quick') };
}

/**
 * Entry point of a section process: run it, send the result to the parent (or print it when
 * started by hand), and exit non-zero on a harness error so the orchestrator reports it.
 */
export function runSection(fn: (options: SectionOptions) => Promise<SectionResult>): void {
  const options = sectionOptions();
  fn(options).then(
    (result) => {
      if (process.send) process.send({ type: 'result', result }, () => process.exit(0));
      else {
        console.log(JSON.stringify(result, null, 2));
        process.exit(0);
      }
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
