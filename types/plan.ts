/**
 * RunPlan: what cli/pipeline tells a runner it may execute, computed from the oracle's Prediction.
 * Runners never import the oracle; this data is how the prediction reaches them.
 */
export interface RunPlan {
  readonly scenarioId: string;
  /** programs the oracle expects the kernel to accept (the host gate also requires the kernel to accept them) */
  readonly expectedAccepted: readonly string[];
  /** whether the oracle considers every op in the scenario well-formed (NULL checks, constant in-range CPUs, no deliberate violation) */
  readonly wellFormed: boolean;
  /** execute at all (false: verify only, e.g. `--verify-only`) */
  readonly execute: boolean;
  /**
   * a known divergence makes this kernel log a splat for the scenario, possibly later and from another context (an
   * RCU callback freeing what its maps held): a VM runs it apart, after the others, so the splat lands on it
   */
  readonly expectSplat: boolean;
  /**
   * a known divergence of the scenario corrupts the kernel for whatever runs after it (Divergence.taintsKernel: a
   * 6.18.15 guest oopsed in a valid program's bpf_per_cpu_ptr after plain_obj_into_percpu cases had freed plain
   * objects through the per-CPU allocator): a VM runs it in a boot of its own, after that boot's other cases
   */
  readonly corruptsKernel: boolean;
}
