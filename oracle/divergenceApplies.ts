import type { Divergence, KernelTarget } from '../types/index.ts';
import { versionInRange } from '../specs/versionRange.ts';

/**
 * Whether a known divergence explains what this kernel does. Its load-only probe decides where it ran: shown applies
 * even outside the recorded range (a backport of the bug, an unrecorded kernel), absent does not apply even inside it
 * (a build with the fix under an unchanged version string). Without a probe result it is placed by its range.
 */
export function divergenceApplies(d: Divergence, kernel: Pick<KernelTarget, 'version' | 'divergences'>): boolean {
  const probe = kernel.divergences.find((r) => r.divergenceId === d.id);
  if (probe?.status === 'shown') return true;
  if (probe?.status === 'absent') return false;
  return versionInRange(kernel.version, d.kernels);
}

/**
 * Whether a divergence may touch this kernel at all: it applies, or its recorded range holds the kernel although the
 * probe says it is fixed. Host safety goes by this, not by divergenceApplies: one probe program behaving correctly
 * is not proof that no other program reaches the bug.
 */
export function divergenceMayApply(d: Divergence, kernel: Pick<KernelTarget, 'version' | 'divergences'>): boolean {
  return divergenceApplies(d, kernel) || versionInRange(kernel.version, d.kernels);
}
