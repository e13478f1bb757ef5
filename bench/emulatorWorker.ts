import { threadId } from 'node:worker_threads';
import { threadData } from '../threads/taskPool.ts';
import { emulateJobs, type EmulatorShare, type EmulatorShareResult, type EmulatorTally, type EmulatorThreadData } from './emulatorThroughput.ts';

/** A bench thread's task (bench/emulatorThroughput.ts): its share of the objects, emulated `passes` times. */
const { jobs, nrCpus, shareOf } = threadData<EmulatorThreadData>();

export default function emulateShare({ share, passes }: EmulatorShare): EmulatorShareResult {
  const mine = jobs.filter((_, i) => shareOf[i] === share);
  let tally: EmulatorTally = { runs: 0, faults: 0 };
  for (let i = 0; i < passes; i++) tally = emulateJobs(mine, nrCpus);
  return { ...tally, thread: threadId };
}
