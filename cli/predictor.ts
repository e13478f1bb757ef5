/**
 * The oracle's predictions of a campaign's next slice, made in pool threads (threads/taskPool.ts) while this thread
 * generates, compares and writes reports, or in this thread when there are none.
 */
import { inOrder, taskPool } from '../threads/taskPool.ts';
import type { Prediction, ProbedKernel, Scenario, Spec } from '../types/index.ts';
import { predictOn } from './pipeline.ts';
import type { PredictThreadData } from './predictTask.ts';

export interface Predictor {
  /** the predictions of `scenarios`, in their order */
  predict(scenarios: readonly Scenario[], signal?: AbortSignal): Promise<Prediction[]>;
  close(): Promise<void>;
}

/** scenarios per task: small enough that two threads share a slice, large enough that a task outweighs its messages */
const PER_TASK = 50;
/** predictions made in this thread between two turns of the event loop (each ~0.3 ms of work) */
const YIELD_EVERY = 8;

export function createPredictor(kernel: ProbedKernel, spec: Spec, threads: number): Predictor {
  if (threads === 0) {
    return {
      predict: async (scenarios, signal) => {
        const out: Prediction[] = [];
        for (const s of scenarios) {
          out.push(predictOn(kernel, spec, s));
          // the runner's answers and the reports get their turn while a slice is predicted
          if (out.length % YIELD_EVERY === 0) {
            await new Promise(setImmediate);
            signal?.throwIfAborted();
          }
        }
        return out;
      },
      close: async () => {},
    };
  }
  const pool = taskPool({ task: new URL('./predictTask.ts', import.meta.url), data: { kernel, spec } satisfies PredictThreadData, threads });
  return {
    predict: async (scenarios, signal) => {
      const tasks: Scenario[][] = [];
      for (let i = 0; i < scenarios.length; i += PER_TASK) tasks.push(scenarios.slice(i, i + PER_TASK));
      const out: Prediction[] = [];
      for await (const predicted of inOrder<Scenario[], Prediction[]>(pool, tasks, signal)) out.push(...predicted);
      return out;
    },
    close: () => pool.destroy(),
  };
}
