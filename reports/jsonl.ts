import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Observation } from '../types/index.ts';
import type { Reporter, ReporterOptions } from './reporter.ts';

/** Time the kernel spent, from the runner's own measurements (wall time of the tool is in summary.json). */
export function caseDurations(o: Observation): { readonly loadNs: number; readonly runNs: number } {
  return {
    loadNs: o.programs.reduce((n, p) => n + p.loadNs, 0),
    runNs: o.runs.reduce((n, r) => n + r.runNs, 0),
  };
}

/**
 * `results.jsonl`: one JSON object per case, written as the case completes so a crashed campaign keeps what it had:
 * scenario id, runner, kernel, prediction, observation (full verifier logs), result, durations.
 */
export function jsonlReporter(options: ReporterOptions): Reporter {
  const path = join(options.outDir, 'results.jsonl');
  let file: Promise<FileHandle> | null = null;
  const handle = (): Promise<FileHandle> => {
    file ??= mkdir(options.outDir, { recursive: true }).then(() => open(path, 'w'));
    return file;
  };
  // Writes are chained so lines never interleave even if the caller does not await onCase.
  let queue: Promise<void> = Promise.resolve();
  return {
    onCase(result, prediction, observation) {
      const line = {
        scenarioId: result.scenarioId,
        runner: result.runner,
        kernel: observation.kernel,
        prediction,
        observation,
        result,
        durations: caseDurations(observation),
      };
      queue = queue.then(async () => (await handle()).appendFile(`${JSON.stringify(line)}\n`));
      return queue;
    },
    async onEnd() {
      await queue;
      // An empty run still leaves an (empty) results.jsonl, so "no cases" is visible rather than a missing file.
      await (await handle()).close();
    },
  };
}
