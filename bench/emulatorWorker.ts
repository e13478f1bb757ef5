import { parentPort } from 'node:worker_threads';
import { emulateJobs, type EmulatorJob } from './emulatorThroughput.ts';

/**
 * A bench thread (bench/emulatorThroughput.ts): receives its objects, emulates them once to warm the JIT up (the
 * figure is the steady state of a long campaign), says ready, and emulates them all again on `go`.
 */
parentPort?.once('message', (m: { jobs: EmulatorJob[]; nrCpus: number }) => {
  emulateJobs(m.jobs, m.nrCpus);
  parentPort?.once('message', () => parentPort?.postMessage(emulateJobs(m.jobs, m.nrCpus)));
  parentPort?.postMessage('ready');
});
