import type { DivergenceProbeResult } from '../types/index.ts';

/** Known divergences on one kernel, by their load-only probes: what summary.json, the console and doctor report. */
export interface KernelDivergences {
  /** the probe shows them */
  readonly shown: readonly string[];
  /** shown although the recorded range does not include this kernel (a subset of `shown`) */
  readonly seenOutsideRange: readonly string[];
  /** the recorded range includes this kernel but the probe does not show it: fixed in this build (informational) */
  readonly fixedInThisBuild: readonly string[];
  /** not probed (value divergences, a probe the runner could not load) and in range: assumed by the range */
  readonly assumedByRange: readonly string[];
  /** every probe result, as measured */
  readonly probes: readonly DivergenceProbeResult[];
}

/** Sorts a kernel's probe results into what is reported about them. Pure. */
export function kernelDivergences(probes: readonly DivergenceProbeResult[]): KernelDivergences {
  const ids = (keep: (r: DivergenceProbeResult) => boolean): string[] => probes.filter(keep).map((r) => r.divergenceId);
  return {
    shown: ids((r) => r.status === 'shown'),
    seenOutsideRange: ids((r) => r.status === 'shown' && !r.inRange),
    fixedInThisBuild: ids((r) => r.status === 'absent' && r.inRange),
    assumedByRange: ids((r) => r.status === 'unprobed' && r.inRange),
    probes,
  };
}

/** Human lines about a kernel's known divergences (console summary, doctor); what is absent as its range says goes unsaid. */
export function kernelDivergenceLines(k: KernelDivergences, release: string): string[] {
  const range = (id: string): string => k.probes.find((r) => r.divergenceId === id)?.kernels ?? '?';
  return [
    `known divergences on ${release}: shows ${k.shown.length > 0 ? k.shown.join(', ') : 'none'}`,
    ...k.seenOutsideRange.map((id) => `  ${id}: seen outside its recorded range '${range(id)}'`),
    ...k.fixedInThisBuild.map((id) => `  ${id}: fixed in this build (${release}): its range '${range(id)}' includes it, its probe does not show it`),
    ...k.assumedByRange.map((id) => `  ${id}: unprobed, assumed by its range '${range(id)}'`),
  ];
}
