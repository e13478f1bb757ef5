import { parentPort } from 'node:worker_threads';
import { emulateJobs, WARM_UP_PASSES, type EmulatorJob } from './emulatorThroughput.ts';

/**
 * A bench thread (bench/emulatorThroughput.ts): receives its objects, emulates them WARM_UP_PASSES times (the figure
 * is the steady state of a long campaign), says ready, and emulates them all again on `go`.
 */
parentPort?.once('message', (m: { jobs: EmulatorJob[]; nrCpus: number }) => {
  for (let i = 0; i < WARM_UP_PASSES; i++) emulateJobs(m.jobs, m.nrCpus);
  parentPort?.once('message', () => parentPort?.postMessage(emulateJobs(m.jobs, m.nrCpus)));
  parentPort?.postMessage('ready');
});
