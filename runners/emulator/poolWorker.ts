/** One thread of runners/emulator/pool.ts: observes the batches it is sent with the runner's options. */
import { parentPort, workerData } from 'node:worker_threads';
import { KptrError } from '../../errors/KptrError.ts';
import { batchObserver, type EmulatorRunnerOptions } from './index.ts';
import type { PoolAnswer, PoolJob } from './pool.ts';

const observe = batchObserver(workerData as EmulatorRunnerOptions);

parentPort!.on('message', (job: PoolJob) => {
  observe(job.batch, new Map(job.plans)).then(
    (observations) => parentPort!.postMessage({ id: job.id, observations } satisfies PoolAnswer),
    (e: unknown) => parentPort!.postMessage({
      id: job.id,
      error: { message: e instanceof Error ? e.message : String(e), kptr: e instanceof KptrError ? { code: e.code, hint: e.hint } : null },
    } satisfies PoolAnswer),
  );
});
