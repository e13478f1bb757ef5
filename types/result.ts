import type { RunnerName } from './kernel.ts';
import type { StatePair } from './statePair.ts';

export type MismatchKind =
  /** oracle expects a rejection, the kernel accepted */
  | 'verdict_kernel_accepts'
  /** oracle expects acceptance, the kernel rejected */
  | 'verdict_kernel_rejects'
  /** both reject, but the log does not hold the expected message */
  | 'message'
  /** a global or retval differs after a run step */
  | 'value'
  /** a userspace map operation's errno or returned value differs */
  | 'map_op'
  /** per-CPU memory grew over the memory passes where the oracle predicts a return to baseline (VM only) */
  | 'leak'
  /** the kernel logged a splat while the case ran */
  | 'splat'
  /** the runner could not execute the case (harness crash, VM timeout) */
  | 'runner_error';

export interface Mismatch {
  readonly kind: MismatchKind;
  readonly program: string | null;
  readonly step: number | null;
  readonly expected: string;
  readonly observed: string;
  /** test_loader-style explanation: each expected piece MATCHED / EXPECTED / UNEXPECTED, then the log */
  readonly detail: string;
}

export type CaseStatus = 'pass' | 'fail' | 'skip' | 'divergence' | 'error';

export interface CaseResult {
  readonly scenarioId: string;
  readonly runner: RunnerName;
  readonly kernelRelease: string;
  readonly status: CaseStatus;
  readonly mismatches: readonly Mismatch[];
  /** for status skip */
  readonly skipReason: string | null;
  /** known divergences that explain the mismatches (status divergence) */
  readonly divergences: readonly string[];
  /** rule ids exercised */
  readonly rules: readonly string[];
  /** state pairs reached (Prediction.statePairs) */
  readonly statePairs: readonly StatePair[];
  /** Prediction.exercises (absent in results written before it existed) */
  readonly exercises?: readonly string[];
  /** userspace map operations the runner executed, as `<mapOp> <mapType> <errno or ok>` (summary coverage) */
  readonly mapOps: readonly string[];
}
