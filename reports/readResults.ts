import type { EmulatorComparison } from '../judge/emulatorComparison.ts';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { CaseResult, KernelInfo, Observation, Prediction, RunnerName } from '../types/index.ts';

/** One line of results.jsonl (reports/jsonl.ts writes it): everything the file reporters and the summary need of a case. */
export interface ResultLine {
  readonly scenarioId: string;
  readonly runner: RunnerName;
  readonly kernel: KernelInfo;
  readonly prediction: Prediction | null;
  readonly observation: Observation;
  readonly result: CaseResult;
  readonly durations: { readonly loadNs: number; readonly runNs: number };
  /** run --with-emulator only */
  readonly emulator?: EmulatorComparison;
}

/**
 * The lines of a results.jsonl, one at a time (a long campaign's file is larger than memory should hold), up to byte
 * `end` (exclusive) when given: `run --resume` rebuilds its reports from them, `merge` joins shards with them.
 */
export async function* readResultLines(path: string, end?: number): AsyncGenerator<ResultLine> {
  if (end === 0) return;
  const lines = createInterface({ input: createReadStream(path, end === undefined ? {} : { end: end - 1 }), crlfDelay: Infinity });
  for await (const line of lines) if (line !== '') yield JSON.parse(line) as ResultLine;
}
