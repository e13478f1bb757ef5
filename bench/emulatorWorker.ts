import { threadData } from '../threads/taskPool.ts';
import { emulateJobs, type EmulatorShare, type EmulatorTally, type EmulatorThreadData } from './emulatorThroughput.ts';

/** A bench thread's task (bench/emulatorThroughput.ts): its share of the objects, emulated `passes` times. */
const { jobs, nrCpus, threads } = threadData<EmulatorThreadData>();

export default function emulateShare({ share, passes }: EmulatorShare): EmulatorTally {
  const mine = jobs.filter((_, i) => i % threads === share);
  let tally: EmulatorTally = { runs: 0, faults: 0 };
  for (let i = 0; i < passes; i++) tally = emulateJobs(mine, nrCpus);
  return tally;
}
