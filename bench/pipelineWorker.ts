import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { campaignArbitrary } from '../cli/pipeline.ts';
import { createEmulatorRunner } from '../runners/emulator/index.ts';
import { loadSpec } from '../specs/load.ts';
import { threadData } from '../threads/taskPool.ts';
import { pipelinePass, type Pipeline, type PipelineAnswer, type PipelineTask, type PipelineThreadData } from './pipelines.ts';

/** A pipeline thread (bench/pipelines.ts): its own emulator runner, in this thread, and the campaign's arbitrary. */
const { profile, progTypes, seed, cases, maxPerBatch, workDir } = threadData<PipelineThreadData>();
const runner = createEmulatorRunner({ kernel: profile, workDir: join(workDir, `pipeline-${threadId}`), maxPerBatch, threads: 0 });
const caps = await runner.probe();
if (!caps.kernel) throw new Error(`emulator runner unavailable: ${caps.problems.join('; ')}`);
const spec = loadSpec();
const pipeline: Pipeline = {
  runner, spec, seed, cases,
  arb: campaignArbitrary(spec, runner.name, { ...caps.kernel, divergences: [] }, progTypes, 'mixed'),
  kernel: { version: caps.kernel.version, nrCpus: caps.kernel.nrCpus, divergences: [] },
};

export default async function pipelineShard({ shard, pass }: PipelineTask): Promise<PipelineAnswer> {
  return { counts: await pipelinePass(pipeline, shard, pass), thread: threadId };
}
