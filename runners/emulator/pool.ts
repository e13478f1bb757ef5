/**
 * The emulator runner's worker threads: each builds, verifies and runs whole batches (batchObserver in
 * runners/emulator/index.ts), and the observations are delivered in batch order, as the in-process runner delivers
 * them, so outputs and checkpoints do not depend on which thread finished first.
 */
import { Worker } from 'node:worker_threads';
import { KptrError } from '../../errors/KptrError.ts';
import type { Observation, RunPlan, Scenario } from '../../types/index.ts';
import type { EmulatorRunnerOptions } from './index.ts';

/** A batch for a thread: the plans travel as entries (a Map would be cloned too, but entries say what is sent). */
export interface PoolJob {
  readonly id: number;
  readonly batch: readonly Scenario[];
  readonly plans: readonly (readonly [string, RunPlan])[];
}

/** A thread's answer: the batch's observations, or what it threw (a KptrError keeps its code and hint). */
export type PoolAnswer =
  | { readonly id: number; readonly observations: Observation[] }
  | { readonly id: number; readonly error: { readonly message: string; readonly kptr: { readonly code: KptrError['code']; readonly hint: string } | null } };

/**
 * A worker thread does not inherit the tsx loader the CLI (bin/kptr-conform.js) or the test runner installed: it
 * registers tsx (resolved from this package, wherever the process started) before importing its TypeScript entry.
 */
export function tsxWorker(entry: URL, workerData: unknown): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const source = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(source, { eval: true, workerData });
}

export class EmulatorPool {
  private workers: Worker[] = [];

  constructor(private readonly options: EmulatorRunnerOptions, private readonly threads: number) {}

  /** Observes `batches` on the threads; `deliver` gets each batch's observations in batch order. */
  async observe(batches: readonly (readonly Scenario[])[], plans: ReadonlyMap<string, RunPlan>, deliver: (o: readonly Observation[]) => void, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.workers.length === 0) {
      this.workers = Array.from({ length: this.threads }, () => {
        const w = tsxWorker(new URL('./poolWorker.ts', import.meta.url), this.options);
        // an idle thread must not keep the process alive; a busy one is ref'd while it has batches
        w.unref();
        return w;
      });
    }
    const workers = this.workers;
    const done: (Observation[] | undefined)[] = [];
    const outstanding = workers.map(() => 0);
    let delivered = 0;
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (e: unknown): void => {
        if (failed) return;
        failed = true;
        signal?.removeEventListener('abort', onAbort);
        // a thread that threw or was stopped mid-batch is not reused: the next run starts fresh ones
        this.close();
        reject(e);
      };
      const onAbort = (): void => fail(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const listen = (w: Worker): void => {
        const onMessage = (a: PoolAnswer): void => {
          if (failed) return;
          if ('error' in a) {
            const { message, kptr } = a.error;
            fail(kptr === null ? new Error(`emulator thread: ${message}`) : new KptrError(kptr.code, message, kptr.hint));
            return;
          }
          done[a.id] = a.observations;
          try {
            while (delivered < batches.length && done[delivered] !== undefined) {
              deliver(done[delivered]!);
              done[delivered++] = undefined;
            }
          } catch (e) {
            // the receiver failed (a report that cannot be written): the run stops as it would in this thread
            fail(e);
            return;
          }
          if (--outstanding[workers.indexOf(w)]! === 0) w.unref();
          if (delivered === batches.length) finish();
        };
        const onError = (e: Error): void => fail(e);
        const onExit = (code: number): void => fail(new Error(`emulator thread exited with code ${code}`));
        w.on('message', onMessage).on('error', onError).on('exit', onExit);
        cleanups.push(() => w.off('message', onMessage).off('error', onError).off('exit', onExit));
      };
      const cleanups: (() => void)[] = [];
      const finish = (): void => {
        signal?.removeEventListener('abort', onAbort);
        for (const c of cleanups) c();
        for (const w of workers) w.unref();
        resolve();
      };
      for (const w of workers) listen(w);
      // every batch is sent at once, dealt round-robin: the threads keep working while this thread is busy (the
      // campaign generates its next chunk meanwhile) and cannot ask for more
      batches.forEach((batch, id) => {
        const k = id % workers.length;
        const job: PoolJob = { id, batch, plans: batch.flatMap((s) => { const p = plans.get(s.id); return p === undefined ? [] : [[s.id, p] as const]; }) };
        if (outstanding[k]!++ === 0) workers[k]!.ref();
        workers[k]!.postMessage(job);
      });
    });
  }

  /** Stops the threads (the next observe starts new ones). */
  close(): void {
    for (const w of this.workers) {
      w.removeAllListeners();
      void w.terminate();
    }
    this.workers = [];
  }
}
