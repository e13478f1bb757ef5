import { describe, expect, it } from 'vitest';
import { kernelDivergenceLines, kernelDivergences } from '../../../reports/kernelDivergences.ts';
import type { DivergenceProbeResult } from '../../../types/index.ts';
import { PROBED_KERNEL } from './fixtures/cases.ts';

describe('kernelDivergences', () => {
  it('should sort probe results into shown, fixed in this build and assumed by range', () => {
    expect(kernelDivergences(PROBED_KERNEL.divergences)).toEqual({
      shown: ['nested_special_field_accepted'],
      seenOutsideRange: [],
      fixedInThisBuild: ['plain_obj_into_percpu'],
      assumedByRange: ['percpu_obj_new_uncleared'],
      probes: PROBED_KERNEL.divergences,
    });
  });

  it('should name a divergence fixed in this build with the release, and one seen outside its range', () => {
    const outside: DivergenceProbeResult = { divergenceId: 'plain_obj_into_percpu', status: 'shown', kernels: '>=6.18 <7.3', inRange: false, detail: 'accepted' };
    expect(kernelDivergenceLines(kernelDivergences(PROBED_KERNEL.divergences), PROBED_KERNEL.release)).toEqual([
      'known divergences on 6.18.44-fc-v669: shows nested_special_field_accepted',
      "  plain_obj_into_percpu: fixed in this build (6.18.44-fc-v669): its range '>=6.18 <7.3' includes it, its probe does not show it",
      "  percpu_obj_new_uncleared: unprobed, assumed by its range '>=6.7'",
    ]);
    expect(kernelDivergenceLines(kernelDivergences([outside]), '7.3.4')).toEqual([
      'known divergences on 7.3.4: shows plain_obj_into_percpu',
      "  plain_obj_into_percpu: seen outside its recorded range '>=6.18 <7.3'",
    ]);
  });

  it('should say none when the kernel shows no divergence', () => {
    expect(kernelDivergenceLines(kernelDivergences([]), 'k')).toEqual(['known divergences on k: shows none']);
  });
});
