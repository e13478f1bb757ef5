import { threadId } from 'node:worker_threads';
import { threadData } from '../threads/taskPool.ts';
import { emulateJobs, type EmulatorShare, type EmulatorShareResult, type EmulatorTally, type EmulatorThreadData } from './emulatorThroughput.ts';

/** A bench thread's task (bench/emulatorThroughput.ts): its share of the objects (or all of them), emulated `passes` times. */
const { jobs, nrCpus, shareOf } = threadData<EmulatorThreadData>();

/** share -1: every object (a warm-up) */
export default function emulateShare({ share, passes }: EmulatorShare): EmulatorShareResult {
  const mine = share < 0 ? jobs : jobs.filter((_, i) => shareOf[i] === share);
  let tally: EmulatorTally = { runs: 0, faults: 0 };
  for (let i = 0; i < passes; i++) tally = emulateJobs(mine, nrCpus);
  return { ...tally, thread: threadId };
}
