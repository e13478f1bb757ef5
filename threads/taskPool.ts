/**
 * Worker threads for CPU-bound stages, on piscina: a pool whose threads each run the default export of one
 * TypeScript module (`task`), with `data` (plain, cloned once per thread) as that module's `threadData()`.
 */
import { workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';

export interface TaskPoolOptions {
  /** the module whose default export runs each task (a function of one cloned argument) */
  readonly task: URL;
  /** what every thread of the pool is given before its first task (threadData) */
  readonly data: unknown;
  readonly threads: number;
}

export function taskPool(o: TaskPoolOptions): Piscina {
  return new Piscina({
    filename: new URL('./taskWorker.mjs', import.meta.url).href,
    workerData: { task: o.task.href, data: o.data },
    minThreads: o.threads,
    maxThreads: o.threads,
    // a thread keeps its JIT-compiled code between a campaign's slices; an idle one does not keep the process alive
    idleTimeout: Number.POSITIVE_INFINITY,
  });
}

/** In a pool's thread: the `data` its pool was created with. */
export function threadData<T>(): T {
  return (workerData as { data: T }).data;
}
