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
}
