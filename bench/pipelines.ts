/**
 * The whole pipeline (generate, predict, emulator runner, compare) as a campaign's shards run it: one pass over the
 * indices of a shard, and N such shards side by side in N pool threads, each with its own emulator runner.
 */
import { loadavg } from 'node:os';
import type fc from 'fast-check';
import { valueAt } from '../campaign/shrink.ts';
import { planFor } from '../cli/pipeline.ts';
import { shardRuns } from '../cli/commands/campaign.ts';
import { EMULATOR_SLICE } from '../cli/session.ts';
import type { Shard } from '../cli/config.ts';
import { prefixScenario } from '../generators/prefixScenario.ts';
import { compare } from '../judge/compare.ts';
import { predict } from '../oracle/predict.ts';
import type { Runner } from '../runners/runner.ts';
import type { ProfileName } from '../emulator/verifier/profile.ts';
import { taskPool } from '../threads/taskPool.ts';
import type { KernelTarget, ProgType, CaseStatus, Scenario, Spec } from '../types/index.ts';
import { rates, settledRounds } from './emulatorThroughput.ts';

export interface Pipeline {
  readonly runner: Runner;
  readonly arb: fc.Arbitrary<Scenario>;
  readonly kernel: KernelTarget;
  readonly spec: Spec;
  readonly seed: number;
  /** cases per pass: pass n takes its shard's of the stream's indices n * cases .. (n + 1) * cases - 1 */
  readonly cases: number;
}

/** A pass's cases by result status. */
export type StatusCounts = Partial<Record<CaseStatus, number>>;

/**
 * Pass `pass` of the whole pipeline: the seed's cases pass * cases .. (pass + 1) * cases - 1 of `shard` (null: all;
 * a later pass runs new cases, as a long campaign does, not the same ones again), drawn as a `run --shard k/n`
 * campaign draws them (case i of the seed, named as bench/run.ts names it) and handed to the emulator runner: in slices of
 * EMULATOR_SLICE cases, each generated, predicted, run and compared before the next (a whole shard at once kept every
 * case's scenario, prediction and observation alive through the runner's scavenges). Only the counts come back.
 */
export async function pipelinePass(p: Pipeline, shard: Shard | null, pass = 0): Promise<StatusCounts> {
  const counts: StatusCounts = {};
  let i = pass * p.cases;
  const end = i + p.cases;
  while (i < end) {
    const scenarios: Scenario[] = [];
    for (; i < end && scenarios.length < EMULATOR_SLICE; i++) {
      if (shardRuns(shard, i)) scenarios.push(prefixScenario(valueAt(p.arb, p.seed, i).value_, `b${p.seed}_${i}`));
    }
    const predicted = scenarios.map((s) => predict(s, p.kernel, p.spec));
    const observed = await p.runner.run(scenarios.map((s, k) => ({ scenario: s, plan: planFor(predicted[k]!, true) })));
    observed.forEach((o, k) => {
      const status = compare(predicted[k]!, o).status;
      counts[status] = (counts[status] ?? 0) + 1;
    });
  }
  return counts;
}

/** What every pipeline thread is given (cloned once, before any clock starts). */
export interface PipelineThreadData {
  readonly profile: ProfileName;
  readonly progTypes: readonly ProgType[];
  readonly seed: number;
  readonly cases: number;
  readonly maxPerBatch: number;
  readonly workDir: string;
}

/** A pipeline thread's task: pass `pass` (pipelinePass) over shard `shard`. */
export interface PipelineTask {
  readonly shard: Shard;
  readonly pass: number;
}

/** A pipeline thread's answer: the last pass's counts, and which thread ran it (worker_threads threadId). */
export interface PipelineAnswer {
  readonly counts: StatusCounts;
  readonly thread: number;
}

/**
 * Prints the end-to-end figure of `threads` whole pipelines side by side, each a pool thread running shard k/threads
 * of the same cases on its own emulator runner (threads 0), in settled rounds (a long campaign's steady state): the
 * wall time of each timed round from handing out the shards to the last thread's counts, and the process's CPU time
 * (all threads).
 */
export async function printPipelinesFigure(data: PipelineThreadData, threads: number): Promise<void> {
  const pool = taskPool({ task: new URL('./pipelineWorker.ts', import.meta.url), data, threads });
  try {
    let pass = 0;
    const round = (): Promise<PipelineAnswer[]> => {
      pass++;
      return Promise.all(Array.from({ length: threads }, (_, j) => pool.run({ shard: { k: j + 1, n: threads }, pass } satisfies PipelineTask) as Promise<PipelineAnswer>));
    };
    const { wallMs, cpuMs, last, fewer } = await settledRounds(round, threads);
    const total: StatusCounts = {};
    for (const { counts } of last) for (const [s, n] of Object.entries(counts) as [CaseStatus, number][]) total[s] = (total[s] ?? 0) + n;
    const ran = Object.values(total).reduce((a, n) => a + n, 0);
    process.stdout.write(`end-to-end, warm, ${threads} whole pipelines side by side (shards k/${threads} of ${data.cases} new cases per round, one pool thread and emulator runner each; last round `
      + `${Object.entries(total).map(([s, n]) => `${s} ${n}`).join(', ')}): ${rates(ran, wallMs)} cases/s wall; ${rates(ran, cpuMs)} cases per CPU-second (all threads)`
      + `${fewer > 0 ? `; ${fewer} timed rounds ran on fewer threads` : ''} (load average ${loadavg()[0]?.toFixed(1)})\n`);
  } finally {
    await pool.destroy();
  }
}
