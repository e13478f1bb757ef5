import { describe, expect, it } from 'vitest';
import { divergenceApplies, divergenceMayApply } from '../../../oracle/divergenceApplies.ts';
import { predict } from '../../../oracle/predict.ts';
import { planFor } from '../../../cli/pipeline.ts';
import { expectationFromCase } from '../../../cli/selftestExpectation.ts';
import { loadSelftests, loadSpec } from '../../../specs/load.ts';
import type { DivergenceProbeResult, KernelTarget, ProbeStatus } from '../../../types/index.ts';

const spec = loadSpec();
const cases = loadSelftests(undefined, spec);
const plain = spec.divergences.find((d) => d.id === 'plain_obj_into_percpu')!;
const gt16 = cases.find((c) => c.scenario.id === 'gt16_xchg_obj_new_nonpercpu')!;

/** A fake probe result for plain_obj_into_percpu, as a session would record it on `version`. */
function probed(version: string, status: ProbeStatus): KernelTarget {
  const r: DivergenceProbeResult = { divergenceId: plain.id, status, kernels: plain.kernels, inRange: version.startsWith('6.18'), detail: 'fake' };
  return { version, nrCpus: 2, divergences: [r] };
}

describe('divergenceApplies', () => {
  it('should follow the probe where there is one, and the recorded range where there is none', () => {
    const cells = (['6.18.44', '7.3.4'] as const).flatMap((v) => (['shown', 'absent', 'unprobed'] as const).map((s) => [v, s, divergenceApplies(plain, probed(v, s))]));
    expect(cells).toEqual([
      ['6.18.44', 'shown', true], ['6.18.44', 'absent', false], ['6.18.44', 'unprobed', true],
      ['7.3.4', 'shown', true], ['7.3.4', 'absent', false], ['7.3.4', 'unprobed', false],
    ]);
    expect([divergenceApplies(plain, { version: '6.18.44', divergences: [] }), divergenceApplies(plain, { version: '6.12.117', divergences: [] })]).toEqual([true, false]);
  });

  it('should keep a divergence the probe shows fixed as possible for host safety while its range holds the kernel', () => {
    expect(divergenceMayApply(plain, probed('6.18.44', 'absent'))).toBe(true);
    expect(divergenceMayApply(plain, probed('7.3.4', 'absent'))).toBe(false);
    expect(divergenceMayApply(plain, probed('7.3.4', 'shown'))).toBe(true);
  });
});

describe('predict with divergence probe results', () => {
  it('should explain case 16 by the divergence on a 6.18 kernel whose probe shows it', () => {
    const p = predict(gt16.scenario, probed('6.18.44', 'shown'), spec);
    expect(p.programs.map((x) => x.verdict)).toEqual(['rejected']);
    expect(p.divergences.map((d) => [d.divergenceId, d.hostUnsafe])).toEqual([['plain_obj_into_percpu', true]]);
  });

  it('should expect the correct refusal and explain nothing on a 6.18 build whose probe shows the fix, yet keep it off the host', () => {
    const p = predict(gt16.scenario, probed('6.18.44', 'absent'), spec);
    expect(p.programs.map((x) => (x.verdict === 'rejected' ? x.expected.ruleId : x.verdict))).toEqual(['kptr_xchg.plain_into_percpu']);
    expect(p.divergences).toEqual([]);
    expect(p.wellFormed).toBe(false);
    expect(planFor(p, true)).toMatchObject({ wellFormed: false, expectedAccepted: [] });
  });

  it('should apply a divergence the probe shows outside its recorded range', () => {
    const p = predict(gt16.scenario, probed('7.3.4', 'shown'), spec);
    expect(p.divergences.map((d) => d.divergenceId)).toEqual(['plain_obj_into_percpu']);
    expect(predict(gt16.scenario, probed('7.3.4', 'absent'), spec).divergences).toEqual([]);
  });

  it('should give a selftest case\'s recorded divergences only where the probe (else the range) says they apply', () => {
    const expectation = (k: KernelTarget) => expectationFromCase(gt16, predict(gt16.scenario, k, spec), spec, k.divergences).divergences.map((d) => d.divergenceId);
    expect(expectation(probed('6.18.44', 'shown'))).toEqual(['plain_obj_into_percpu']);
    expect(expectation(probed('6.18.44', 'absent'))).toEqual([]);
    expect(expectation(probed('7.3.4', 'shown'))).toEqual(['plain_obj_into_percpu']);
    expect(expectation({ version: '6.18.44', nrCpus: 2, divergences: [] })).toEqual(['plain_obj_into_percpu']);
  });
});
