/**
 * A kernel that skips a rule (an accepts_invalid divergence it shows) accepts the program and a VM runs it, so what the
 * program does after that rule's error matters: here a plain object put into a __percpu_kptr field
 * (plain_obj_into_percpu, which corrupts the per-CPU allocator) after a bpf_percpu_obj_new of a struct with a nested
 * bpf_spin_lock (nested_special_field_accepted). Seen in a 6.18.15 VM campaign (seed 61815, case s61815_7483): the
 * oracle stopped at the first error, the case shared a boot, and a valid case after it drew the allocator's WARN.
 */
import { describe, expect, it } from 'vitest';
import { planFor } from '../../../cli/pipeline.ts';
import { predict } from '../../../oracle/predict.ts';
import { loadSpec } from '../../../specs/load.ts';
import type { DivergenceProbeResult, KernelTarget, Program } from '../../../types/index.ts';
import { prog, scenario as build, VAL_T } from './fixtures/build.ts';

const spec = loadSpec();
const NESTED = 'nested_special_field_accepted';
const PLAIN = 'plain_obj_into_percpu';

const locked: Program = {
  ...prog('psr_p0', 'tc', [
    { op: 'lookup', slot: 'array', dst: 'v0' },
    { op: 'new', dst: 'v1', struct: 'psr_locked', percpu: true },
    { op: 'if', var: 'v1', is: 'null', then: [{ op: 'return', value: 0 }] },
    { op: 'drop', var: 'v1', percpu: true },
    { op: 'new', dst: 'v2', struct: 'val_t', percpu: false },
    { op: 'if', var: 'v2', is: 'null', then: [{ op: 'return', value: 0 }] },
    { op: 'xchg', slot: 'array', src: 'v2', dst: 'v3' },
    { op: 'if', var: 'v3', is: 'nonnull', then: [{ op: 'drop', var: 'v3', percpu: true }] },
  ]),
  vars: [
    { name: 'v0', type: { kind: 'map_value', slot: 'array' } },
    { name: 'v1', type: { kind: 'percpu', struct: 'psr_locked' } },
    { name: 'v2', type: { kind: 'plain', struct: 'val_t' } },
    { name: 'v3', type: { kind: 'percpu', struct: 'val_t' } },
  ],
};
// a per-CPU object of a struct with a nested bpf_spin_lock, then a plain val_t into the array's __percpu_kptr field
const scenario = build([locked], {
  intent: { kind: 'mixed' },
  structs: [
    VAL_T,
    { name: 'psr_in', members: [{ kind: 'scalar', ctype: 'int', count: null, name: 'f0' }, { kind: 'spin_lock', name: 'f1' }] },
    { name: 'psr_locked', members: [{ kind: 'scalar', ctype: 'int', count: null, name: 'f0' }, { kind: 'struct', struct: 'psr_in', count: null, name: 'f1' }] },
  ],
  schedule: [{ program: 'psr_p0', cpu: 0, repeat: 1 }],
});

const probe = (divergenceId: string, status: DivergenceProbeResult['status']): DivergenceProbeResult => ({ divergenceId, status, kernels: '', inRange: true, detail: '' });
const kernel = (version: string, divergences: readonly DivergenceProbeResult[]): KernelTarget => ({ version, nrCpus: 2, divergences });
const divergencesOn = (k: KernelTarget): string[] => predict(scenario, k, spec).divergences.map((d) => d.divergenceId);

describe('divergences past a rule the kernel skips', () => {
  it('should predict the correct kernel (rejected at the first error) and put both divergences on the program where both show', () => {
    const k = kernel('6.18.15', [probe(NESTED, 'shown'), probe(PLAIN, 'shown')]);
    const p = predict(scenario, k, spec);
    expect(p.programs).toEqual([expect.objectContaining({ program: 'psr_p0', verdict: 'rejected', expected: expect.objectContaining({ ruleId: 'percpu_obj_new.nested_special_field' }) })]);
    expect(p.rulesHit).toEqual(['percpu_obj_new.nested_special_field']);
    expect(p.divergences.map((d) => d.divergenceId)).toEqual([NESTED, PLAIN]);
    // so a VM gives it a boot of its own, and expects its splat
    expect(planFor(p, true)).toEqual(expect.objectContaining({ corruptsKernel: true, expectSplat: true, wellFormed: false, expectedAccepted: [] }));
  });

  it('should add nothing where the kernel enforces the later rule, or enforces the first one', () => {
    // the host's later 6.18.44 builds refuse the plain object: the program stops there, and nothing corrupts
    expect(divergencesOn(kernel('6.18.44', [probe(NESTED, 'shown'), probe(PLAIN, 'absent')]))).toEqual([NESTED]);
    // a kernel that enforces nested_special_field never reaches the xchg
    expect(divergencesOn(kernel('6.18.15', [probe(NESTED, 'absent'), probe(PLAIN, 'shown')]))).toEqual([]);
  });
});
