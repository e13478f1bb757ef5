import type { CheckedCase } from './pipeline.ts';

/**
 * The bugs a campaign has found so far, as `--until-bugs` counts them: one per failing case, each of which becomes a
 * finding. The one place that says what a bug is, for the stopping rule.
 * @param failing the failing cases of the segment running now
 * @param before bugs of the segments already finished (their findings)
 */
export function bugCount(failing: readonly CheckedCase[], before: number): number {
  return before + failing.length;
}

export interface Budget {
  /** RunConfig.durationMs shared out over the run's kernels: each kernel's segment gets its part */
  readonly segmentMs: number | null;
  readonly untilBugs: number | null;
}

/** Why a campaign stops generating before its --runs, or null while its budget lasts. */
export function budgetSpent(b: Budget, elapsedMs: number, bugs: number): 'duration' | 'bugs' | null {
  if (b.untilBugs !== null && bugs >= b.untilBugs) return 'bugs';
  if (b.segmentMs !== null && elapsedMs >= b.segmentMs) return 'duration';
  return null;
}
