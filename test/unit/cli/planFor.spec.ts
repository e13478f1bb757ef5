import { describe, expect, it } from 'vitest';
import { planFor } from '../../../cli/pipeline.ts';
import type { DivergenceHit } from '../../../types/index.ts';
import { prediction } from '../reports/fixtures/cases.ts';

const hit = (over: Partial<DivergenceHit>): DivergenceHit => ({ program: 'rp1_leak', step: null, divergenceId: 'd', hostUnsafe: false, splat: false, kind: 'accepts_invalid', ...over });

describe('planFor', () => {
  it('should pass on the oracle\'s accepted programs and keep a host-unsafe divergence off the host', () => {
    const plan = planFor(prediction({ wellFormed: true, divergences: [hit({ hostUnsafe: true })] }), true);
    expect(plan).toEqual({ scenarioId: 'rp1', expectedAccepted: ['rp1_store', 'rp1_sum_it'], wellFormed: false, execute: true, expectSplat: true, corruptsKernel: false });
  });

  it('should expect a splat only from a divergence known to corrupt the kernel or to log one', () => {
    expect(planFor(prediction({ divergences: [hit({ splat: true })] }), true).expectSplat).toBe(true);
    expect(planFor(prediction({ divergences: [hit({})] }), true).expectSplat).toBe(false);
    expect(planFor(prediction({ wellFormed: true }), false)).toMatchObject({ wellFormed: true, execute: false, expectSplat: false, corruptsKernel: false });
    // a splat alone, or a host-unsafe divergence that kills the kernel at once, does not make the case a danger to
    // what runs after it in the same guest; one that taints the kernel (Divergence.taintsKernel) does
    expect(planFor(prediction({ divergences: [hit({ splat: true, hostUnsafe: true })] }), true).corruptsKernel).toBe(false);
    expect(planFor(prediction({ divergences: [hit({ hostUnsafe: true, taintsKernel: true })] }), true).corruptsKernel).toBe(true);
  });
});
