import type { Observation, RunnerCapabilities, RunnerName, RunPlan, Scenario } from '../types/index.ts';

/** One scenario and what the pipeline allows the runner to do with it. */
export interface RunCase {
  readonly scenario: Scenario;
  readonly plan: RunPlan;
}

/** Progress callbacks; a runner calls them as soon as an observation is final. */
export interface RunHooks {
  onObservation?(o: Observation): void;
  /**
   * Aborted when the run must stop (a signal, a full disk): the runner kills the processes it started (compiler,
   * harness, QEMU) and rejects with `signal.reason`. A process that ended this way yields no observation: nothing
   * about a case is made up from a kill.
   */
  readonly signal?: AbortSignal;
}

/**
 * A place where scenarios are verified and executed (the host kernel, a QEMU guest, ...).
 * `run` returns one Observation per case, in the order of `cases`; a kernel rejection is data, never an exception.
 */
export interface Runner {
  readonly name: RunnerName;
  probe(): Promise<RunnerCapabilities>;
  run(cases: readonly RunCase[], hooks?: RunHooks): Promise<Observation[]>;
}
