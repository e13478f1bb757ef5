/**
 * The emulator runner's worker threads (a piscina pool, threads/taskPool.ts): each builds, verifies and runs whole
 * batches (batchObserver in runners/emulator/index.ts), and the observations are delivered in batch order, as the
 * in-process runner delivers them, so outputs and checkpoints do not depend on which thread finished first.
 */
import type { Piscina } from 'piscina';
import { KptrError } from '../../errors/KptrError.ts';
import { taskPool } from '../../threads/taskPool.ts';
import type { Observation, RunPlan, Scenario } from '../../types/index.ts';
import type { EmulatorRunnerOptions } from './index.ts';

/** A batch for a thread: the plans travel as entries (a Map would be cloned too, but entries say what is sent). */
export interface PoolJob {
  readonly batch: readonly Scenario[];
  readonly plans: readonly (readonly [string, RunPlan])[];
}

/** A thread's answer: the batch's observations, or what it threw (a KptrError keeps its code and hint). */
export type PoolAnswer =
  | { readonly observations: Observation[] }
  | { readonly error: { readonly message: string; readonly kptr: { readonly code: KptrError['code']; readonly hint: string } | null } };

export class EmulatorPool {
  private pool: Piscina | null = null;

  constructor(private readonly options: EmulatorRunnerOptions, private readonly threads: number) {}

  /** Observes `batches` on the threads; `deliver` gets each batch's observations in batch order. */
  async observe(batches: readonly (readonly Scenario[])[], plans: ReadonlyMap<string, RunPlan>, deliver: (o: readonly Observation[]) => void, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const pool = (this.pool ??= taskPool({ task: new URL('./poolWorker.ts', import.meta.url), data: this.options, threads: this.threads }));
    // the first failure (a thread's, the receiver's, or the caller's abort) cancels the batches still queued or running
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    // every batch is queued at once: the threads keep working while this thread is busy (the campaign prepares its
    // next slice meanwhile)
    const answers = batches.map((batch) => {
      const job: PoolJob = { batch, plans: batch.flatMap((s) => { const p = plans.get(s.id); return p === undefined ? [] : [[s.id, p] as const]; }) };
      const answer = pool.run(job, { signal: stop.signal }) as Promise<PoolAnswer>;
      // a batch abandoned after an earlier failure rejects too: that rejection is not the run's error
      answer.catch(() => {});
      return answer;
    });
    try {
      for (const pending of answers) {
        const a = await pending;
        // a batch that finished before the stop came is not delivered after it (the receiver may have stopped the run)
        signal?.throwIfAborted();
        if ('error' in a) {
          const { message, kptr } = a.error;
          throw kptr === null ? new Error(`emulator thread: ${message}`) : new KptrError(kptr.code, message, kptr.hint);
        }
        deliver(a.observations);
      }
      signal?.throwIfAborted();
    } catch (e) {
      stop.abort(e);
      // piscina rejects a cancelled task with its own AbortError: a stopped run rejects with the caller's reason
      throw signal?.aborted ? signal.reason : e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
