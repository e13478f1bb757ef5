import { join } from 'node:path';
import type { Observation } from '../types/index.ts';
import type { Reporter, ReporterOptions } from './reporter.ts';
import { TailedFile } from './TailedFile.ts';

/** Time the kernel spent, from the runner's own measurements (wall time of the tool is in summary.json). */
export function caseDurations(o: Observation): { readonly loadNs: number; readonly runNs: number } {
  return {
    loadNs: o.programs.reduce((n, p) => n + p.loadNs, 0),
    runNs: o.runs.reduce((n, r) => n + r.runNs, 0),
  };
}

/**
 * `results.jsonl`: one JSON object per case, written as the case completes (TailedFile: within a quarter second) so a
 * stopped or crashed campaign keeps what it had: scenario id, runner, kernel, prediction, observation (full verifier logs), result,
 * durations, and with --with-emulator the emulator comparison. A line the disk has no room for is cut off whole (TailedFile), so every line in the file parses.
 */
export function jsonlReporter(options: ReporterOptions): Reporter {
  let file: TailedFile | null = null;
  const open = (): TailedFile => (file ??= new TailedFile(join(options.outDir, 'results.jsonl'), '', ''));
  return {
    onCase(result, prediction, observation, emulator) {
      const line = {
        scenarioId: result.scenarioId,
        runner: result.runner,
        kernel: observation.kernel,
        prediction,
        observation,
        result,
        durations: caseDurations(observation),
        // --with-emulator only: the three-way comparison (judge/emulatorComparison.ts)
        ...(emulator === null ? {} : { emulator }),
      };
      open().append(`${JSON.stringify(line)}\n`);
    },
    flush() {
      file?.flush();
    },
    onEnd() {
      // An empty run still leaves an (empty) results.jsonl, so "no cases" is visible rather than a missing file.
      open().close();
    },
  };
}
