import type { KernelInfo, RunnerName } from './kernel.ts';
import type { MapOpResult } from './mapOp.ts';

/** Who refused a program: the kernel verifier (BPF_PROG_LOAD), or libbpf before/around it (extern resolution, map creation). */
export type RejectStage = 'verifier' | 'libbpf' | 'map_create';

export type ProgramObservation =
  | {
      readonly program: string;
      readonly verdict: 'accepted';
      /** verifier's "processed N insns" when a log was taken, else null */
      readonly loadNs: number;
    }
  | {
      readonly program: string;
      readonly verdict: 'rejected';
      readonly stage: RejectStage;
      /** positive errno number and its symbolic name from the C harness (never guessed in TypeScript) */
      readonly errno: number;
      readonly errnoName: string;
      /** the full verifier log (log_level 1), or libbpf's message lines for non-verifier stages; never truncated here */
      readonly log: string;
      /** cilium-style one-liner: `load s42_p0 (tc): EACCES: <last log line> (N lines omitted)` */
      readonly summary: string;
      readonly loadNs: number;
    };

/** One BPF_PROG_TEST_RUN of one program. Globals are read right after it. */
export interface RunObservation {
  readonly step: number;
  readonly iteration: number;
  readonly program: string;
  readonly cpu: number;
  /** 0 or the errno name of bpf_prog_test_run_opts */
  readonly err: string | null;
  readonly retval: number | null;
  /** every scenario global, as a decimal string of its C value */
  readonly globals: Readonly<Record<string, string>>;
  readonly runNs: number;
}

/** A kernel console splat (WARN, BUG, Oops, KASAN, verifier bug, RCU stall, panic) attributed to a scenario. */
export interface Splat {
  readonly kind: 'warn' | 'bug' | 'oops' | 'kasan' | 'verifier_bug' | 'rcu_stall' | 'panic' | 'hang';
  readonly text: string;
  /** program/step running when it appeared, if known */
  readonly during: string | null;
}

/** A program in the schedule the runner did not execute, and why. */
export interface NotRun {
  readonly program: string;
  readonly reason: string;
}

export interface Observation {
  readonly scenarioId: string;
  readonly runner: RunnerName;
  readonly kernel: KernelInfo;
  /** set when the whole scenario could not be tried (unsupported program type, too few CPUs, ...) */
  readonly skipped: string | null;
  /** set when the runner failed on this scenario (harness crash, VM timeout): a runner error, not a kernel verdict */
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly programs: readonly ProgramObservation[];
  readonly runs: readonly RunObservation[];
  /** the userspace map operations of the schedule that ran, in order */
  readonly mapOps: readonly MapOpResult[];
  readonly notRun: readonly NotRun[];
  readonly splats: readonly Splat[];
  /** the memory oracle's measurement (VM runner with memory passes only) */
  readonly memory?: MemoryObservation;
}

/**
 * `Percpu:` of /proc/meminfo (kB) around `passes` more runs of the scenario's plan, each on a fresh copy of its
 * object kept open to the end (runners/native/harness.c memory_passes): settled before the first and after the last
 * pass, and unsettled after each pass.
 */
export interface MemoryObservation {
  readonly passes: number;
  readonly percpuKbBefore: number;
  readonly percpuKbAfter: number;
  readonly percpuKb: readonly number[];
}
