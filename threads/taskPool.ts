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

/**
 * A pool thread's young generation, MB: three semi-spaces of 32 MB, as the launcher's --max-semi-space-size=32 gives
 * the main thread (bin/kptr-conform.js): a case's garbage dies young, and a larger nursery scavenges less often.
 */
const YOUNG_GENERATION_MB = 96;

export function taskPool(o: TaskPoolOptions): Piscina {
  return new Piscina({
    filename: new URL('./taskWorker.mjs', import.meta.url).href,
    workerData: { task: o.task.href, data: o.data },
    minThreads: o.threads,
    maxThreads: o.threads,
    // a thread keeps its JIT-compiled code between a campaign's slices; an idle one does not keep the process alive
    idleTimeout: Number.POSITIVE_INFINITY,
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  });
}

/**
 * One task per input on `pool`, all queued at once (the threads keep working while this thread is busy), their
 * results yielded in input order as each is ready. The first failure — a task's, the consumer's, or `signal`'s abort
 * — cancels the tasks still queued or running; a stopped run throws the stop's reason, not piscina's AbortError, and
 * a result that was ready before the stop is not yielded after it (the consumer may have stopped the run itself).
 */
export async function* inOrder<I, R>(pool: Piscina, inputs: readonly I[], signal?: AbortSignal): AsyncGenerator<R> {
  signal?.throwIfAborted();
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const results = inputs.map((input) => {
    const r = pool.run(input, { signal: stop.signal }) as Promise<R>;
    // a task abandoned after an earlier failure rejects too: that rejection is not the run's error
    r.catch(() => {});
    return r;
  });
  try {
    for (const r of results) {
      const value = await r;
      signal?.throwIfAborted();
      yield value;
    }
    signal?.throwIfAborted();
  } catch (e) {
    throw signal?.aborted ? signal.reason : e;
  } finally {
    // also when the consumer stops iterating (it threw): nothing it no longer waits for keeps a thread busy
    stop.abort();
    signal?.removeEventListener('abort', onAbort);
  }
}

/** In a pool's thread: the `data` its pool was created with. */
export function threadData<T>(): T {
  return (workerData as { data: T }).data;
}
