import type { CaseResult, Observation, Prediction, ProbedKernel, RunnerName } from '../types/index.ts';
import type { EmulatorComparison } from '../judge/emulatorComparison.ts';
import type { ReplayTarget } from './replayCommand.ts';
import { consoleReporter } from './console.ts';
import { htmlReporter } from './html.ts';
import { jsonlReporter } from './jsonl.ts';
import { junitReporter } from './junit.ts';
import { kernelsJsonReporter } from './kernelsJson.ts';
import type { Summary } from './summary.ts';
import { testProgsJsonReporter } from './testProgsJson.ts';

/** One runner × kernel segment of a run, announced before its cases. */
export interface RunMeta {
  readonly runner: RunnerName;
  readonly kernel: ProbedKernel;
  readonly seed: number | null;
  /** number of cases the segment will report, when known (ETA) */
  readonly total: number | null;
  /** the segment's runner, kernel and codegen as `replay` options (replayCommand) */
  readonly replay: ReplayTarget;
}

/**
 * Where a failing case can be run again from. `finding`: its findings/<id>/scenario.yaml, written by a campaign that
 * does not shrink. `shrunk-finding`: a campaign shrinks failing cases and writes each finding as it ends, under the
 * shrunk scenario's id, so the console can only say where findings go. `file`: the scenario file a replay read.
 * `selftest`: a built-in case, run again with `selftests --filter`.
 */
export type RerunSource =
  | { readonly kind: 'finding' }
  | { readonly kind: 'shrunk-finding' }
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'selftest' };

/** Resolved once by the CLI; reporters never read process.env or argv. */
export interface ReporterOptions {
  /** directory the file reporters write into: results.jsonl, junit.xml, test_progs.json, report.html, kernels.json */
  readonly outDir: string;
  /** where the console reporter writes */
  readonly stdout: { write(chunk: string): unknown };
  readonly isTTY: boolean;
  /** console: only the summary */
  readonly quiet: boolean;
  /** how the console tells the user to run a failing case again */
  readonly rerun: RerunSource;
  /** console: the summary as JSON on stdout (one line per runner × kernel), nothing else */
  readonly json: boolean;
  /**
   * runner × kernel segments the run will have: a comparison across kernels (console, report.html, kernels.json)
   * keeps cases only when there are several, so a one-kernel campaign's memory does not grow with its cases
   */
  readonly kernels: number;
  /** milliseconds, monotonic; injected so progress output is reproducible in tests */
  readonly clock: () => number;
}

/**
 * A sink for results. `onStart` once per runner × kernel segment, `onCase` for every case (prediction null when the
 * oracle never ran, e.g. a skipped case; `emulator` the three-way comparison of --with-emulator, else null), `onEnd`
 * once with one Summary per segment.
 */
export interface Reporter {
  onStart?(meta: RunMeta): void;
  onCase(r: CaseResult, p: Prediction | null, o: Observation, emulator: EmulatorComparison | null): Promise<void> | void;
  onEnd(summaries: readonly Summary[]): Promise<void> | void;
  /** writes what a file reporter holds back (TailedFile): before a checkpoint reads the file's size */
  flush?(): void;
}

/** Every output format; the CLI's --format choices are the keys. */
export const reporters = {
  console: consoleReporter,
  jsonl: jsonlReporter,
  junit: junitReporter,
  'test-progs-json': testProgsJsonReporter,
  html: htmlReporter,
  'kernels-json': kernelsJsonReporter,
} as const satisfies Record<string, (options: ReporterOptions) => Reporter>;

export type ReporterName = keyof typeof reporters;
