import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expectedRefused, mapOpPlanArgs, parseHarnessOutput, rejectionSummary, writePlan } from '../../../runners/harnessProtocol.ts';
import { loadScenarioFile } from '../../../specs/load.ts';
import type { KernelInfo, RunPlan } from '../../../types/index.ts';
import { batchOpsScenario, leakNew, percpuAllocArray, xchgObjNewIntoPercpu } from '../../kernel/scenarios.ts';

const kernel: KernelInfo = { release: '6.18.44-fc-v669', version: '6.18.44', nrCpus: 2, machine: 'host' };
/** Real output of `harness run` on the 6.18.44 host for this batch (see test/kernel/harness.kernel.spec.ts). */
const fixture = readFileSync(new URL('./host/fixtures/harness-6.18.44.jsonl', import.meta.url), 'utf8');
const batch = [percpuAllocArray('fx'), leakNew('fl'), xchgObjNewIntoPercpu('fz')];

describe('writePlan', () => {
  it('should verify every program, name each scenario\'s kfuncs, declare globals and run only the allowed steps in scenario order', () => {
    expect(writePlan({ scenarios: batch, runSteps: { fx: [0, 2], fl: [0] } })).toBe(
      [
        'prog fx_store fx',
        'prog fx_update fx',
        'prog fx_read fx',
        'prog fl_leak fl',
        'prog fz_xchg fz',
        'kfuncs fx bpf_iter_num_destroy bpf_iter_num_new bpf_iter_num_next bpf_percpu_obj_drop_impl bpf_percpu_obj_new_impl',
        'kfuncs fl bpf_percpu_obj_new_impl',
        'kfuncs fz bpf_obj_new_impl bpf_percpu_obj_drop_impl',
        'globals fx fx_cpu0_field_d fx_sum_field_c',
        'run fx fx_store 0 1',
        'run fx fx_read 0 1',
        'run fl fl_leak 0 1',
        '',
      ].join('\n'),
    );
  });
});

describe('writePlan, programs expected refused', () => {
  it('should mark the programs the plans do not expect accepted with `log`, so their first load takes the log', () => {
    const plans = new Map([['fx', { expectedAccepted: ['fx_store', 'fx_read'] }], ['fl', { expectedAccepted: [] }]] as const);
    const refused = expectedRefused(batch.slice(0, 2), plans as unknown as ReadonlyMap<string, RunPlan>);
    expect([...refused]).toEqual(['fx_update', 'fl_leak']);
    const progs = writePlan({ scenarios: batch, runSteps: {}, expectedRefused: refused }).split('\n').filter((l) => l.startsWith('prog '));
    expect(progs).toEqual(['prog fx_store fx', 'prog fx_update fx log', 'prog fx_read fx', 'prog fl_leak fl log', 'prog fz_xchg fz']);
  });
});

describe('mapop plan lines', () => {
  it('should give a batch its keys joined by commas (- for none) or its lookup count, with elem_flags and sum as a u64', () => {
    expect(mapOpPlanArgs({ mapOp: 'update_batch', slot: 'm', keys: [1, 0], flags: 'BPF_EXIST', sum: '-1' })).toEqual(['1,0', '2', '18446744073709551615']);
    expect(mapOpPlanArgs({ mapOp: 'delete_batch', slot: 'm', keys: [] })).toEqual(['-', '0', '0']);
    expect(mapOpPlanArgs({ mapOp: 'lookup_and_delete_batch', slot: 'm', count: 3 })).toEqual(['3', '0', '0']);
    expect(mapOpPlanArgs({ mapOp: 'update', slot: 'm', key: 1, flags: 'BPF_NOEXIST', sum: '6' })).toEqual(['1', '1', '6']);
  });

  it('should read a batch event\'s count and keys into the map operation result', () => {
    const s = batchOpsScenario('pb', 'hash');
    const out = [
      '{"ev":"kernel","release":"6.18.44-fc-v669","nr_cpus":2}',
      '{"ev":"mapop","scenario":"pb","step":2,"op":"lookup_batch","err":"ENOENT","count":1,"keys":[0],"value":[["0","0"]]}',
      '{"ev":"mapop","scenario":"pb","step":4,"op":"update_batch","err":"EINVAL","count":1,"value":null}',
      '{"ev":"done"}',
    ].join('\n');
    const [o] = parseHarnessOutput(out, [s], 'host', kernel);
    expect(o?.mapOps).toEqual([
      { step: 2, mapOp: 'lookup_batch', mapType: 'hash', err: 'ENOENT', value: [['0', '0']], count: 1, keys: [0] },
      { step: 4, mapOp: 'update_batch', mapType: 'hash', err: 'EINVAL', value: null, count: 1 },
    ]);
  });
});

describe('parseHarnessOutput', () => {
  const [fx, fl, fz] = parseHarnessOutput(fixture, batch, 'host', kernel);

  it('should read the per-program verdicts of one object', () => {
    expect(fx?.programs.map((p) => p.verdict)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(fz?.programs.map((p) => p.verdict)).toEqual(['accepted']);
    const leak = fl?.programs[0];
    expect(leak?.verdict).toBe('rejected');
    if (leak?.verdict !== 'rejected') return;
    expect(leak.stage).toBe('verifier');
    expect(leak.errnoName).toBe('EINVAL');
    expect(leak.log).toContain('Unreleased reference id=2 alloc_insn=');
    expect(leak.summary).toMatch(/^load fl_leak \(tc\): EINVAL: BPF_EXIT instruction in main prog would lead to reference leak \(\d+ lines omitted\)$/);
  });

  it('should map run events to schedule steps with the globals after each', () => {
    expect(fx?.runs.map((r) => [r.step, r.program, r.globals])).toEqual([
      [0, 'fx_store', { fx_cpu0_field_d: '0', fx_sum_field_c: '0' }],
      [1, 'fx_update', { fx_cpu0_field_d: '0', fx_sum_field_c: '0' }],
      [2, 'fx_read', { fx_cpu0_field_d: '2', fx_sum_field_c: '1' }],
    ]);
    expect(fx?.error).toBeNull();
  });

  it('should record a skipped run of a rejected program as NotRun', () => {
    expect(fl?.runs).toEqual([]);
    expect(fl?.notRun).toEqual([{ program: 'fl_leak', reason: 'the kernel rejected the program' }]);
  });

  it('should survive a JSON round trip', () => {
    const all = parseHarnessOutput(fixture, batch, 'host', kernel);
    expect(JSON.parse(JSON.stringify(all))).toEqual(all);
  });

  it('should give every scenario an observation when the harness died midway', () => {
    // cut after fx's second run: a torn last line, no `done`
    const lines = fixture.split('\n');
    const cut = lines.findIndex((l) => l.includes('"prog":"fx_update","cpu"'));
    const torn = `${lines.slice(0, cut + 1).join('\n')}\n{"ev":"run","scen`;
    const obs = parseHarnessOutput(torn, batch, 'host', kernel);
    expect(obs.map((o) => o.scenarioId)).toEqual(['fx', 'fl', 'fz']);
    expect(obs.map((o) => o.error?.code ?? null)).toEqual(['KPTR_HARNESS_CRASH', 'KPTR_HARNESS_CRASH', 'KPTR_HARNESS_CRASH']);
    expect(obs[0]?.runs).toHaveLength(2);
    expect(parseHarnessOutput('', batch, 'host', kernel).every((o) => o.error?.code === 'KPTR_HARNESS_CRASH')).toBe(true);
  });

  it('should consider a scenario finished once a later scenario produced run output', () => {
    const upToLeakSkip = fixture.split('\n').filter((l) => !l.includes('"ev":"done"')).join('\n');
    const obs = parseHarnessOutput(upToLeakSkip, batch, 'host', kernel);
    expect(obs.map((o) => o.error === null)).toEqual([true, false, false]);
  });

  it('should report fentry retval as null (test_run reports the traced function, not the program)', () => {
    const s = { ...leakNew('fe'), programs: [{ ...leakNew('fe').programs[0]!, progType: 'fentry' as const }] };
    const out = [
      '{"ev":"load","prog":"fe_leak","verdict":"accepted","ns":1}',
      '{"ev":"run","scenario":"fe","prog":"fe_leak","cpu":0,"iter":0,"err":null,"retval":3,"ns":1,"globals":{}}',
      '{"ev":"done"}',
    ].join('\n');
    expect(parseHarnessOutput(out, [s], 'vm', kernel)[0]?.runs[0]?.retval).toBeNull();
  });
});

describe('rejectionSummary', () => {
  it('should skip the statistics trailer and count the omitted lines', () => {
    const log = ['0: R1=ctx() R10=fp0', '3: (85) call x', 'Possibly NULL pointer passed to trusted arg0', 'processed 5 insns (limit 1000000) max_states_per_insn 0', 'verification time 12 usec', ''].join('\n');
    expect(rejectionSummary('s1_p0', 'syscall', 'EACCES', log)).toBe(
      'load s1_p0 (syscall): EACCES: Possibly NULL pointer passed to trusted arg0 (2 lines omitted)',
    );
  });

  it('should take the error line before a 7.x report (Verification failed, Reason, ..., Suggestion), not the report\'s last line', () => {
    // 7.3.4's log for a bpf_per_cpu_ptr call on an unchecked per-CPU object (seed 2, s2_16), report shortened
    const log = [
      '62: (85) call bpf_per_cpu_ptr#153', 'R1 type=percpu_ptr_ expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_', '',
      'Verification failed: Call Type Safety: Invalid call argument', '', 'Reason:',
      '  The first argument (R1) to bpf_per_cpu_ptr does not satisfy the verifier contract: it has type',
      'Suggestion:', '  Pass a value with one of the accepted pointer or scalar types for this call.', '',
      'processed 90 insns (limit 1000000) max_states_per_insn 0 total_states 8 peak_states 8 mark_read 0',
    ].join('\n');
    expect(rejectionSummary('s2_16_p0', 'tc', 'EACCES', log)).toBe(
      'load s2_16_p0 (tc): EACCES: R1 type=percpu_ptr_ expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_ (6 lines omitted)',
    );
  });

  it('should include the line before a register-state last line', () => {
    const log = ['a', 'R1 invalid mem access', '\tR1_w=scalar()', 'processed 2 insns'].join('\n');
    expect(rejectionSummary('p', 'tc', 'EACCES', log)).toBe('load p (tc): EACCES: R1 invalid mem access: R1_w=scalar() (1 line omitted)');
  });

  it('should take libbpf messages for object-level failures', () => {
    const log = "libbpf: extern (func ksym) 'bpf_percpu_obj_new_impl': not found in kernel or module BTFs\nlibbpf: failed to load object 'x.o'\n";
    expect(rejectionSummary('p', 'tc', 'EINVAL', log)).toBe(
      "load p (tc): EINVAL: libbpf: extern (func ksym) 'bpf_percpu_obj_new_impl': not found in kernel or module BTFs",
    );
    expect(rejectionSummary('p', 'tc', 'EPERM', '')).toBe('load p (tc): EPERM');
  });
});

describe('grace-period steps in the harness protocol', () => {
  const puc = loadScenarioFile(fileURLToPath(new URL('../../../specs/regressions/percpu_obj_new_uncleared.yaml', import.meta.url)));

  it('should write a grace_period line where the schedule has one, between the run lines', () => {
    const runLines = writePlan({ scenarios: [puc], runSteps: { puc: [0, 1, 2, 3, 4] } }).split('\n').filter((l) => /^(run|grace_period) /.test(l));
    expect(runLines).toEqual(['run puc puc_dirty 0 1', 'grace_period puc', 'run puc puc_dirty 0 1', 'grace_period puc', 'run puc puc_fresh 0 2']);
  });

  it('should give the runs after a grace_period event the schedule indexes that count the grace periods', () => {
    const run = (prog: string, iter: number, seen: string): string =>
      JSON.stringify({ ev: 'run', scenario: 'puc', prog, cpu: 0, iter, err: null, retval: 0, ns: 1, globals: { puc_seen: seen } });
    const gp = JSON.stringify({ ev: 'grace_period', scenario: 'puc', err: null, ns: 16_000_000 });
    const text = [
      JSON.stringify({ ev: 'kernel', release: kernel.release, nr_cpus: 2 }),
      JSON.stringify({ ev: 'load', prog: 'puc_dirty', verdict: 'accepted', ns: 1 }),
      JSON.stringify({ ev: 'load', prog: 'puc_fresh', verdict: 'accepted', ns: 1 }),
      run('puc_dirty', 0, '0'), gp, run('puc_dirty', 0, '0'), gp, run('puc_fresh', 0, '21'), run('puc_fresh', 1, '21'),
      JSON.stringify({ ev: 'done' }),
    ].join('\n');
    const [o] = parseHarnessOutput(text, [puc], 'host', kernel);
    expect(o?.error).toBeNull();
    expect(o?.runs.map((r) => [r.step, r.iteration, r.program, r.globals.puc_seen])).toEqual([
      [0, 0, 'puc_dirty', '0'], [2, 0, 'puc_dirty', '0'], [4, 0, 'puc_fresh', '21'], [4, 1, 'puc_fresh', '21'],
    ]);
  });
});

describe('a grace period the harness could not wait for', () => {
  it('should make the scenario a runner error naming the errno, not a result', () => {
    const puc = loadScenarioFile(fileURLToPath(new URL('../../../specs/regressions/percpu_obj_new_uncleared.yaml', import.meta.url)));
    const text = [
      JSON.stringify({ ev: 'load', prog: 'puc_dirty', verdict: 'accepted', ns: 1 }),
      JSON.stringify({ ev: 'load', prog: 'puc_fresh', verdict: 'accepted', ns: 1 }),
      JSON.stringify({ ev: 'grace_period', scenario: 'puc', err: 'EINVAL', ns: 1 }),
      JSON.stringify({ ev: 'done' }),
    ].join('\n');
    const [o] = parseHarnessOutput(text, [puc], 'host', kernel);
    expect(o?.error?.code).toBe('KPTR_GRACE_PERIOD_FAILED');
    expect(o?.error?.message).toContain('failed with EINVAL');
  });
});

describe('concurrent steps in the harness protocol', () => {
  const puc = loadScenarioFile(fileURLToPath(new URL('../../../specs/regressions/percpu_obj_new_uncleared.yaml', import.meta.url)));
  const s = { ...puc, schedule: [{ program: 'puc_dirty', cpu: 0, repeat: 1 }, { concurrent: [{ program: 'puc_dirty', cpu: 1, repeat: 1 }, { program: 'puc_dirty', cpu: 0, repeat: 1 }] as const }, { program: 'puc_fresh', cpu: 1, repeat: 1 }] };

  it('should write one concurrent line naming the step and both runs', () => {
    const lines = writePlan({ scenarios: [s], runSteps: { puc: [0, 1, 2] } }).split('\n').filter((l) => /^(run|concurrent) /.test(l));
    expect(lines).toEqual(['run puc puc_dirty 0 1', 'concurrent puc 1 puc_dirty 1 puc_dirty 0', 'run puc puc_fresh 1 1']);
  });

  it('should put the runs of a concurrent line in the step they name, and go on in schedule order after them', () => {
    const run = (prog: string, cpu: number, step?: number): string =>
      JSON.stringify({ ev: 'run', scenario: 'puc', prog, cpu, iter: 0, err: null, retval: 0, ns: 1, globals: { puc_seen: '0' }, ...(step === undefined ? {} : { step }) });
    const text = [
      JSON.stringify({ ev: 'kernel', release: kernel.release, nr_cpus: 2 }),
      JSON.stringify({ ev: 'load', prog: 'puc_dirty', verdict: 'accepted', ns: 1 }),
      JSON.stringify({ ev: 'load', prog: 'puc_fresh', verdict: 'accepted', ns: 1 }),
      run('puc_dirty', 0), run('puc_dirty', 1, 1), run('puc_dirty', 0, 1), run('puc_fresh', 1),
      JSON.stringify({ ev: 'done' }),
    ].join('\n');
    const [o] = parseHarnessOutput(text, [s], 'vm', kernel);
    expect(o?.runs.map((r) => [r.step, r.program, r.cpu])).toEqual([[0, 'puc_dirty', 0], [1, 'puc_dirty', 1], [1, 'puc_dirty', 0], [2, 'puc_fresh', 1]]);
  });
});
