import { describe, expect, it } from 'vitest';
import { kernelCaseCollector, kernelDisagreements, type KernelCase } from '../../../reports/kernelDisagreements.ts';
import { sampleCases } from './fixtures/sample.ts';
import type { CaseResult, Observation, Prediction, ProgramObservation, ProgramPrediction } from '../../../types/index.ts';

const KERNEL = { release: 'r', version: '6.12.0', nrCpus: 2, machine: 'vm' as const };

const accepted = (program: string): ProgramObservation => ({ program, verdict: 'accepted', loadNs: 1 });
const rejected = (program: string, why: string): ProgramObservation => ({
  program, verdict: 'rejected', stage: 'verifier', errno: 13, errnoName: 'EACCES', log: why, summary: `load ${program} (tc): EACCES: ${why}`, loadNs: 1,
});
const predictAccept = (program: string): ProgramPrediction => ({ program, verdict: 'accepted' });
const predictReject = (program: string, ruleId: string): ProgramPrediction => ({
  program, verdict: 'rejected', expected: { ruleId, stage: 'verifier', errnoName: 'EACCES', lines: [] }, alternatives: [],
});

/** One scenario `s` with program `p` on one kernel: what the oracle predicted, what was seen, how they compared. */
function onKernel(kernel: string, predicted: ProgramPrediction, seen: ProgramObservation, status: CaseResult['status']): [string, KernelCase[]] {
  const expected: Prediction = { scenarioId: 's', kernelVersion: '0', nrCpus: 2, programs: [predicted], steps: [], mapOps: [], divergences: [], rulesHit: [], statePairs: [], exercises: [], wellFormed: true };
  const observation: Observation = { scenarioId: 's', runner: 'vm', kernel: KERNEL, skipped: null, error: null, programs: [seen], runs: [], mapOps: [], notRun: [], splats: [] };
  const result: CaseResult = {
    scenarioId: 's', runner: 'vm', kernelRelease: kernel, status, skipReason: null, divergences: [], rules: [], statePairs: [], mapOps: [],
    mismatches: status === 'fail' ? [{ kind: 'verdict_kernel_accepts', program: 'p', step: null, expected: 'rejected', observed: 'accepted', detail: '' }] : [],
  };
  return [`vm ${kernel}`, [{ result, expected, observation }]];
}

describe('kernelDisagreements', () => {
  it('should list a program the kernels treat differently as each one should, without blaming the oracle', () => {
    const rows = kernelDisagreements(new Map([
      onKernel('6.1', predictReject('p', 'kfunc.absent'), rejected('p', 'not found'), 'pass'),
      onKernel('6.12', predictAccept('p'), accepted('p'), 'pass'),
    ]));
    expect(rows).toEqual([{
      scenarioId: 's', program: 'p', kernelsDisagree: true, oracleDisagrees: false,
      byKernel: [
        { kernel: 'vm 6.1', observed: 'rejected: load p (tc): EACCES: not found', predicted: 'rejected: kfunc.absent', status: 'pass' },
        { kernel: 'vm 6.12', observed: 'accepted', predicted: 'accepted', status: 'pass' },
      ],
    }]);
  });

  it('should flag the kernel that differs from the oracle even when every kernel agrees', () => {
    const rows = kernelDisagreements(new Map([
      onKernel('6.12', predictReject('p', 'mem.maybe_null_deref'), accepted('p'), 'fail'),
      onKernel('7.3', predictReject('p', 'mem.maybe_null_deref'), accepted('p'), 'fail'),
    ]));
    expect(rows.map((r) => [r.kernelsDisagree, r.oracleDisagrees, r.byKernel.map((k) => k.status)])).toEqual([[false, true, ['fail', 'fail']]]);
  });

  it('should leave out programs every kernel treats alike, as predicted (known divergences included)', () => {
    expect(kernelDisagreements(new Map([
      onKernel('6.18', predictReject('p', 'x'), accepted('p'), 'divergence'),
      onKernel('7.3', predictReject('p', 'x'), accepted('p'), 'divergence'),
    ]))).toEqual([]);
  });
});

describe('kernelCaseCollector', () => {
  it('should keep cases only when the run has several kernels, so a one-kernel campaign does not grow with its cases', () => {
    const [c] = sampleCases();
    const one = kernelCaseCollector(1);
    const two = kernelCaseCollector(2);
    for (const k of [one, two]) k.add(c!.result, c!.prediction, c!.observation);
    expect(one.runs().size).toBe(0);
    expect([...two.runs().values()].flat()).toHaveLength(1);
  });
});
