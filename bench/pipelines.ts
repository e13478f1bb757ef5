/**
 * The whole pipeline (generate, predict, emulator runner, compare) as a campaign's shards run it: one pass over the
 * indices of a shard, and N such shards side by side in N pool threads, each with its own emulator runner.
 */
import { loadavg } from 'node:os';
import type fc from 'fast-check';
import { valueAt } from '../campaign/shrink.ts';
import { planFor } from '../cli/pipeline.ts';
import { shardRuns } from '../cli/commands/campaign.ts';
import type { Shard } from '../cli/config.ts';
import { prefixScenario } from '../generators/prefixScenario.ts';
import { compare } from '../judge/compare.ts';
import { predict } from '../oracle/predict.ts';
import type { Runner } from '../runners/runner.ts';
import type { ProfileName } from '../emulator/verifier/profile.ts';
import { taskPool } from '../threads/taskPool.ts';
import type { KernelTarget, ProgType, CaseStatus, Scenario, Spec } from '../types/index.ts';
import { rates, timedAsync, WARM_UP_PASSES } from './emulatorThroughput.ts';

export interface Pipeline {
  readonly runner: Runner;
  readonly arb: fc.Arbitrary<Scenario>;
  readonly kernel: KernelTarget;
  readonly spec: Spec;
  readonly seed: number;
  /** the stream's indices 0 .. cases - 1, of which a pass takes its shard's */
  readonly cases: number;
}

/** A pass's cases by result status. */
export type StatusCounts = Partial<Record<CaseStatus, number>>;

/**
 * One pass of the whole pipeline over the cases of `shard` (null: all), as a `run --shard k/n` campaign draws them
 * (case i of the seed, named as bench/run.ts names it); only the counts come back.
 */
export async function pipelinePass(p: Pipeline, shard: Shard | null): Promise<StatusCounts> {
  const scenarios: Scenario[] = [];
  for (let i = 0; i < p.cases; i++) if (shardRuns(shard, i)) scenarios.push(prefixScenario(valueAt(p.arb, p.seed, i).value_, `b${p.seed}_${i}`));
  const predicted = scenarios.map((s) => predict(s, p.kernel, p.spec));
  const observed = await p.runner.run(scenarios.map((s, k) => ({ scenario: s, plan: planFor(predicted[k]!, true) })));
  const counts: StatusCounts = {};
  observed.forEach((o, k) => {
    const status = compare(predicted[k]!, o).status;
    counts[status] = (counts[status] ?? 0) + 1;
  });
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

/** A pipeline thread's task: `passes` passes over shard `shard`; the last pass's counts. */
export interface PipelineTask {
  readonly shard: Shard;
  readonly passes: number;
}

/** measured passes after the warm-up: the machine is shared, so the median and the best are printed */
const MEASURED_PASSES = 5;

/**
 * Prints the end-to-end figure of `threads` whole pipelines side by side, each a pool thread running shard k/threads
 * of the same cases on its own emulator runner (threads 0): warm-up passes, then the wall time of each measured
 * pass from handing out the shards to the last thread's counts, and the process's CPU time (all threads).
 */
export async function printPipelinesFigure(data: PipelineThreadData, threads: number): Promise<void> {
  const pool = taskPool({ task: new URL('./pipelineWorker.ts', import.meta.url), data, threads });
  try {
    const shards = (passes: number): Promise<StatusCounts[]> =>
      Promise.all(Array.from({ length: threads }, (_, j) => pool.run({ shard: { k: j + 1, n: threads }, passes } satisfies PipelineTask) as Promise<StatusCounts>));
    await shards(WARM_UP_PASSES);
    const walls: number[] = [];
    const cpus: number[] = [];
    let counts: StatusCounts[] = [];
    for (let i = 0; i < MEASURED_PASSES; i++) {
      const r = await timedAsync(() => shards(1));
      counts = r.value;
      walls.push(r.wall);
      cpus.push(r.cpu);
    }
    const total: StatusCounts = {};
    for (const part of counts) for (const [s, n] of Object.entries(part) as [CaseStatus, number][]) total[s] = (total[s] ?? 0) + n;
    const ran = Object.values(total).reduce((a, n) => a + n, 0);
    process.stdout.write(`end-to-end, warm, ${threads} whole pipelines side by side (shards k/${threads} of the ${data.cases} cases, one pool thread and emulator runner each: `
      + `${Object.entries(total).map(([s, n]) => `${s} ${n}`).join(', ')}): ${rates(ran, walls)} cases/s wall; ${rates(ran, cpus)} cases per CPU-second (all threads) (load average ${loadavg()[0]?.toFixed(1)})\n`);
  } finally {
    await pool.destroy();
  }
}
