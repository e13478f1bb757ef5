/**
 * A rejects_valid divergence met through a state pair (Divergence.validPairs): maybe_null_percpu_xchg_src_verifier_bug.
 * The oracle predicts the correct kernel (xn_null accepted) and puts a hit on the program where the divergence applies,
 * so a kernel's EFAULT refusal is explained; where the probe says absent, or the program checks for NULL first, no hit.
 */
import { describe, expect, it } from 'vitest';
import { predict } from '../../../oracle/predict.ts';
import { loadSelftests, loadSpec } from '../../../specs/load.ts';
import type { DivergenceProbeResult, KernelTarget, Scenario } from '../../../types/index.ts';

const spec = loadSpec();
const ID = 'maybe_null_percpu_xchg_src_verifier_bug';
const xn = loadSelftests(undefined, spec).find((c) => c.scenario.id === 'xn_null')!.scenario;
const probe = (status: DivergenceProbeResult['status']): DivergenceProbeResult => ({ divergenceId: ID, status, kernels: '>=6.7', inRange: true, detail: '' });
const kernel = (version: string, divergences: readonly DivergenceProbeResult[] = []): KernelTarget => ({ version, nrCpus: 2, divergences });
const hits = (s: Scenario, k: KernelTarget) => predict(s, k, spec).divergences.filter((d) => d.divergenceId === ID);

describe('rejects_valid divergences met through validPairs', () => {
  it('should predict the correct kernel and put the divergence on the program on kernels that show it', () => {
    const p = predict(xn, kernel('6.18.44'), spec);
    expect(p.programs).toEqual([{ program: 'xn_null_p0', verdict: 'accepted' }]);
    expect(hits(xn, kernel('6.18.44'))).toEqual([expect.objectContaining({ program: 'xn_null_p0', kind: 'rejects_valid', splat: true })]);
    expect(hits(xn, kernel('7.3.4', [probe('shown')]))).toHaveLength(1);
  });

  it('should put no hit where the probe shows the kernel fixed, nor on a program that checks for NULL before the xchg', () => {
    expect(hits(xn, kernel('6.18.44', [probe('absent')]))).toEqual([]);
    const [lookup, create, xchg, ...rest] = xn.programs[0]!.ops;
    const checked: Scenario = {
      ...xn,
      programs: [{ ...xn.programs[0]!, ops: [lookup!, create!, { op: 'if', var: 'v1', is: 'null', then: [{ op: 'return', value: 0 }] }, xchg!, ...rest] }],
    };
    expect(predict(checked, kernel('6.18.44'), spec).programs[0]!.verdict).toBe('accepted');
    expect(hits(checked, kernel('6.18.44'))).toEqual([]);
  });
});
