import type { DivergenceProbeResult } from './divergenceProbe.ts';

/** What a runner reports about the kernel it ran on. */
export interface KernelInfo {
  /** `uname -r`, e.g. `6.18.44-fc-v669`, `6.12.117+deb13-cloud-amd64`. */
  readonly release: string;
  /** numeric `major.minor.patch` parsed from the release, e.g. `6.18.44`. */
  readonly version: string;
  /** libbpf_num_possible_cpus() on that kernel. */
  readonly nrCpus: number;
  readonly machine: 'host' | 'vm' | 'emulator';
}

/**
 * A kernel as a session knows it: what the runner reported, plus which known divergences the load-only probes showed
 * on it (cli/divergenceProbes.ts). This is what the oracle predicts for (it satisfies KernelTarget).
 */
export interface ProbedKernel extends KernelInfo {
  readonly divergences: readonly DivergenceProbeResult[];
}

/** What the oracle is told about the kernel it predicts for: plain data, no I/O behind it. */
export interface KernelTarget {
  /** numeric `major.minor.patch` */
  readonly version: string;
  readonly nrCpus: number;
  /**
   * probe results of known divergences on this kernel: a probe decides whether a divergence explains anything here;
   * a divergence with no result (or `unprobed`) is placed by its recorded version range. `[]`: ranges only.
   */
  readonly divergences: readonly DivergenceProbeResult[];
}

/** What a runner can do here (doctor, skip reasons). */
export interface RunnerCapabilities {
  readonly runner: RunnerName;
  readonly kernel: KernelInfo | null;
  /** program types the kernel lets us load and test-run here */
  readonly progTypes: Readonly<Record<'tc' | 'syscall' | 'fentry' | 'fentry.s', { readonly ok: boolean; readonly reason: string | null }>>;
  /** whole-runner problems (no CAP_BPF, harness missing, ...) — empty when usable */
  readonly problems: readonly string[];
}

export type RunnerName = 'host' | 'vm' | 'emulator';
