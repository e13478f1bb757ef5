import type { MapOpResult } from './mapOp.ts';
import type { Divergence, ErrnoName } from './spec.ts';
import type { StatePair } from './statePair.ts';

/** One way the kernel may word a rejection: the rule and the ordered log lines to find. */
export interface ExpectedMessage {
  readonly ruleId: string;
  readonly stage: 'verifier' | 'libbpf' | 'map_create';
  readonly errnoName: ErrnoName;
  /** ordered substrings with {{regex}} islands, params already substituted */
  readonly lines: readonly string[];
}

export type ProgramPrediction =
  | { readonly program: string; readonly verdict: 'accepted' }
  | {
      readonly program: string;
      readonly verdict: 'rejected';
      /** the error the verifier must report first (verification order) */
      readonly expected: ExpectedMessage;
      /** other errors on other paths a correct verifier could equally report first */
      readonly alternatives: readonly ExpectedMessage[];
    };

/** Expected state after one test run. A global mapped to null is not predictable (e.g. bytes read through an untrusted pointer). */
export interface StepPrediction {
  readonly step: number;
  readonly iteration: number;
  readonly program: string;
  /** the program's return value; null where test_run does not report it (fentry: the traced function's) */
  readonly retval: number | null;
  readonly globals: Readonly<Record<string, string | null>>;
  /**
   * globals whose predicted value rests on the `new` contract that a per-CPU object's unwritten fields read 0
   * (a read or sum reached memory no program wrote): a kernel that hands out uncleared memory breaks only these
   */
  readonly zeroFilled: readonly string[];
  /** the run's CPU, for the two runs of a concurrent step (they share `step` and `iteration`, maybe `program`) */
  readonly cpu?: number;
}

/**
 * One way a schedule with concurrent steps may end (Prediction.outcomes): the runs' values and the map operations'
 * results of one interleaving of the concurrent runs' shared accesses.
 */
export interface Outcome {
  readonly steps: readonly StepPrediction[];
  readonly mapOps: readonly MapOpResult[];
}

/** A known divergence that applies to this scenario on this kernel (by the kernel's probe, else by its range). */
export interface DivergenceHit {
  /** the program it concerns; null for one a userspace map operation starts (`step`) */
  readonly program: string | null;
  /**
   * the schedule step of the userspace map operation after which it can show (Divergence.afterMapOps): it explains
   * value and map-operation mismatches at or after this step, of any program; null: not tied to a step
   */
  readonly step: number | null;
  readonly divergenceId: string;
  readonly hostUnsafe: boolean;
  /** the divergence comes with a kernel splat (Divergence.splat) */
  readonly splat: boolean;
  /** Divergence.taintsKernel (absent: false) */
  readonly taintsKernel?: boolean;
  /** Divergence.kind: a `value` hit explains only value mismatches of zero-filled globals, nothing else */
  readonly kind: Divergence['kind'];
}

export interface Prediction {
  readonly scenarioId: string;
  /** kernel version the prediction is for (`6.18.44`) */
  readonly kernelVersion: string;
  readonly nrCpus: number;
  readonly programs: readonly ProgramPrediction[];
  /** runs of the schedule; programs predicted rejected are left out */
  readonly steps: readonly StepPrediction[];
  /** the schedule's userspace map operations (those after a rejected program's steps included) */
  readonly mapOps: readonly MapOpResult[];
  readonly divergences: readonly DivergenceHit[];
  /** rule ids whose condition the oracle evaluated as hit */
  readonly rulesHit: readonly string[];
  /** (op × handle state × program type) pairs the programs reached, each once (types/statePair.ts) */
  readonly statePairs: readonly StatePair[];
  /**
   * what else the scenario exercises, each once, for coverage: `step <StepKind>` per kind of schedule step,
   * `home <kind> <type>` per kptr home (`home map lru_hash`, `home global bss`)
   */
  readonly exercises: readonly string[];
  /**
   * every pointer NULL-checked before use, every CPU constant < nrCpus, no deliberate violation, and no host-unsafe
   * divergence that may touch it (by its range or its probe, even one the probe shows fixed in this build)
   */
  readonly wellFormed: boolean;
  /**
   * with concurrent steps in the schedule: every distinct outcome an interleaving of their runs allows, the first
   * being `steps` and `mapOps` above (each concurrent step's first run entirely before its second); absent otherwise
   */
  readonly outcomes?: readonly Outcome[];
  /** false when the interleavings were more than the oracle enumerates (oracle/runtime/interleave.ts MAX_INTERLEAVINGS) */
  readonly outcomesComplete?: boolean;
  /** the memory oracle's prediction: null unless the schedule ends holding nothing (types/scenario.ts endsHoldingNothing) */
  readonly memory?: MemoryPrediction | null;
}

/**
 * A scenario that ends by freeing its maps leaves nothing behind: over any number of passes, per-CPU memory returns
 * to its baseline within the allocator's granularity (`slackKb`). The bytes say how big a leak would be.
 */
export interface MemoryPrediction {
  /** per-CPU bytes (all CPUs) the pass's `new` ops allocate: what it would leak at most */
  readonly allocatedBytes: number;
  /** per-CPU bytes (all CPUs) the slots hold when the maps are freed: what the map free path must release */
  readonly heldAtFreeBytes: number;
  /** growth over all passes still counted as the baseline */
  readonly slackKb: number;
}
