import type { CaseResult } from '../types/index.ts';

/**
 * The directory name of a finding under `<out>/findings/`: scenario id, runner and kernel release, so the same
 * scenario failing on two kernels gives two findings. The pipeline writes findings under this id and the console
 * reporter prints replay commands pointing there, so both must use this function.
 */
export function findingId(r: Pick<CaseResult, 'scenarioId' | 'runner' | 'kernelRelease'>): string {
  return `${r.scenarioId}-${r.runner}-${r.kernelRelease}`.replace(/[^A-Za-z0-9._-]/g, '_');
}
