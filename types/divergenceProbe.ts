import type { VersionRange } from './spec.ts';

/**
 * What a load-only probe says about one known divergence on one kernel: `shown` (the probe program got the divergent
 * verdict or message), `absent` (it did not: the kernel behaves correctly there), `unprobed` (no probe: a `value`
 * divergence, or the runner could not load the probe, e.g. its program type is unavailable).
 */
export type ProbeStatus = 'shown' | 'absent' | 'unprobed';

/** One divergence's probe on one kernel, as measured when a session opens. */
export interface DivergenceProbeResult {
  readonly divergenceId: string;
  readonly status: ProbeStatus;
  /** the divergence's recorded range (Divergence.kernels), and whether it holds this kernel's version */
  readonly kernels: VersionRange;
  readonly inRange: boolean;
  /** what the probe observed (`accepted`, the rejection's one-line summary) or why there was no probe */
  readonly detail: string;
}
