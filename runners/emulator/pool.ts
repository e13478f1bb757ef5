/**
 * The emulator runner's worker threads (a piscina pool, threads/taskPool.ts): each builds, verifies and runs whole
 * batches (batchObserver in runners/emulator/index.ts), and the observations are delivered in batch order, as the
 * in-process runner delivers them, so outputs and checkpoints do not depend on which thread finished first.
 */
import type { Piscina } from 'piscina';
import { KptrError } from '../../errors/KptrError.ts';
import { inOrder, taskPool } from '../../threads/taskPool.ts';
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
    const pool = (this.pool ??= taskPool({ task: new URL('./poolWorker.ts', import.meta.url), data: this.options, threads: this.threads }));
    const jobs = batches.map((batch): PoolJob => ({ batch, plans: batch.flatMap((s) => { const p = plans.get(s.id); return p === undefined ? [] : [[s.id, p] as const]; }) }));
    for await (const a of inOrder<PoolJob, PoolAnswer>(pool, jobs, signal)) {
      if ('error' in a) {
        const { message, kptr } = a.error;
        throw kptr === null ? new Error(`emulator thread: ${message}`) : new KptrError(kptr.code, message, kptr.hint);
      }
      deliver(a.observations);
    }
  }
}
