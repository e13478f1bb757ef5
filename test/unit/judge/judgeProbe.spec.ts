import { describe, expect, it } from 'vitest';
import { judgeProbe } from '../../../judge/judgeProbe.ts';
import type { DivergenceProbe, Observation, ProgramObservation } from '../../../types/index.ts';
import { KERNEL } from '../reports/fixtures/cases.ts';

const ACCEPTS: DivergenceProbe = { case: 'gt16', program: 'x', verdict: 'accepted', msgs: [] };
const VERIFIER_BUG: DivergenceProbe = { case: 'uw', program: 'x', verdict: 'rejected', msgs: ['verifier bug: ref_obj_id for allocated object must be non-zero'] };

const rejected = (log: string, stage: 'verifier' | 'libbpf' = 'verifier'): ProgramObservation => ({
  program: 'x', verdict: 'rejected', stage, errno: 13, errnoName: 'EACCES', log, summary: `load x (tc): EACCES: ${log}`, loadNs: 1,
});
const observed = (programs: readonly ProgramObservation[], over: Partial<Observation> = {}): Observation => ({
  scenarioId: 's', runner: 'host', kernel: KERNEL, skipped: null, error: null, programs, runs: [], mapOps: [], notRun: [], splats: [], ...over,
});

describe('judgeProbe', () => {
  it('should say shown when the probe program gets the divergent verdict, absent otherwise', () => {
    expect(judgeProbe(ACCEPTS, observed([{ program: 'x', verdict: 'accepted', loadNs: 1 }]))).toEqual({ status: 'shown', detail: 'x: accepted' });
    expect(judgeProbe(ACCEPTS, observed([rejected('invalid kptr access, R2 type=ptr_ expected=ptr_val_t')]))).toEqual({
      status: 'absent', detail: 'load x (tc): EACCES: invalid kptr access, R2 type=ptr_ expected=ptr_val_t',
    });
  });

  it('should need the divergent message in a verifier rejection for a message divergence', () => {
    expect(judgeProbe(VERIFIER_BUG, observed([rejected('...\nverifier bug: ref_obj_id for allocated object must be non-zero\n')])).status).toBe('shown');
    expect(judgeProbe(VERIFIER_BUG, observed([rejected('only read is supported')])).status).toBe('absent');
    expect(judgeProbe(VERIFIER_BUG, observed([{ program: 'x', verdict: 'accepted', loadNs: 1 }])).status).toBe('absent');
    expect(judgeProbe(VERIFIER_BUG, observed([rejected('verifier bug: ref_obj_id for allocated object must be non-zero', 'libbpf')])).status).toBe('absent');
  });

  it('should say unprobed when the runner skipped the probe, failed, or gave no verdict for its program', () => {
    expect(judgeProbe(ACCEPTS, observed([], { skipped: 'fentry programs cannot be loaded' }))).toEqual({ status: 'unprobed', detail: 'probe skipped: fentry programs cannot be loaded' });
    expect(judgeProbe(ACCEPTS, observed([], { error: { code: 'KPTR_VM_TIMEOUT', message: 'no answer' } })).status).toBe('unprobed');
    expect(judgeProbe(ACCEPTS, observed([])).status).toBe('unprobed');
  });

  it('should carry the splat the load of the probe program logged (a verifier_bug WARN on the host) in the detail', () => {
    const warn = { kind: 'warn' as const, text: '------------[ cut here ]------------\nWARNING: CPU: 0 PID: 7626 at kernel/bpf/verifier.c:9661 check_reg_type+0x4a0/0x540', during: 'x' };
    const r = judgeProbe(VERIFIER_BUG, observed([rejected('verifier bug: ref_obj_id for allocated object must be non-zero')], { splats: [warn, { ...warn, during: 'other' }] }));
    expect(r.status).toBe('shown');
    expect(r.detail).toBe('load x (tc): EACCES: verifier bug: ref_obj_id for allocated object must be non-zero; logged while loading: WARNING: CPU: 0 PID: 7626 at kernel/bpf/verifier.c:9661 check_reg_type+0x4a0/0x540');
  });
});
