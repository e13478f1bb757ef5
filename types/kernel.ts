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
