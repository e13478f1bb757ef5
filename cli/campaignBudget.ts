import { bugSignature } from '../reports/bugSignature.ts';
import type { Summary } from '../reports/summary.ts';
import type { CheckedCase } from './pipeline.ts';

/**
 * The bugs a campaign has found so far, as `--until-bugs` counts them: distinct bug signatures (reports/bugSignature.ts),
 * over the segments already finished and the failing cases of the one running now.
 */
export function bugCount(failing: readonly CheckedCase[], done: readonly Pick<Summary, 'bugs'>[]): number {
  const seen = new Set(done.flatMap((s) => Object.keys(s.bugs)));
  for (const c of failing) {
    const signature = bugSignature(c.expected, c.observation);
    if (signature !== null) seen.add(signature);
  }
  return seen.size;
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
