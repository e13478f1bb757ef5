/** The task of a thread of runners/emulator/pool.ts: observes one batch with the runner's options. */
import { KptrError } from '../../errors/KptrError.ts';
import { threadData } from '../../threads/taskPool.ts';
import { batchObserver, type EmulatorRunnerOptions } from './index.ts';
import type { PoolAnswer, PoolJob } from './pool.ts';

const observe = batchObserver(threadData<EmulatorRunnerOptions>());

export default async function observeJob(job: PoolJob): Promise<PoolAnswer> {
  try {
    return { observations: await observe(job.batch, new Map(job.plans)) };
  } catch (e) {
    return { error: { message: e instanceof Error ? e.message : String(e), kptr: e instanceof KptrError ? { code: e.code, hint: e.hint } : null } };
  }
}
