import { describe, expect, it } from 'vitest';
import { compare } from '../../../judge/compare.ts';
import type { Observation } from '../../../types/index.ts';
import {
  accepted, LEAK, LOG_LEAK_NEW, LOG_USE_AFTER_DROP, observation, prediction, rejected, run, USE_AFTER_DROP,
} from '../reports/fixtures/cases.ts';

const withPrograms = (programs: Observation['programs'], over: Partial<Observation> = {}): Observation => observation({ programs, ...over });

describe('compare', () => {
  it('should pass when every verdict, message, retval and predicted global agrees', () => {
    const r = compare(prediction(), observation());
    expect(r).toEqual({
      scenarioId: 'rp1', runner: 'host', kernelRelease: '6.18.44-fc-v669', status: 'pass',
      mismatches: [], skipReason: null, divergences: [], rules: ['refs.unreleased'], mapOps: [],
      statePairs: [{ op: 'percpu_obj_drop', state: 'percpu_ptr_', progType: 'tc' }],
      exercises: ['home map array', 'step run'],
    });
  });

  it('should compare each userspace map operation (errno, then every value word) and count the ones that ran', () => {
    const lookup = { step: 2, mapOp: 'lookup' as const, mapType: 'percpu_hash' as const, err: null, value: [['5', '0'], ['5', '0']] };
    const p = prediction({ mapOps: [lookup] });
    expect(compare(p, observation({ mapOps: [lookup] }))).toMatchObject({ status: 'pass', mapOps: ['lookup percpu_hash ok'] });
    const leaked = compare(p, observation({ mapOps: [{ ...lookup, value: [['5', '0'], ['5', '18446612682702618624']] }] }));
    expect(leaked.status).toBe('fail');
    expect(leaked.mismatches).toEqual([expect.objectContaining({ kind: 'map_op', program: null, step: 2, expected: 'lookup: ok value [5, 0] [5, 0]', observed: 'lookup: ok value [5, 0] [5, 18446612682702618624]' })]);
    expect(compare(p, observation({ mapOps: [{ ...lookup, err: 'ENOENT', value: null }] })).mismatches[0]).toMatchObject({ kind: 'map_op', observed: 'lookup: ENOENT' });
    // a batch: the same count and keys too
    const batch = { step: 3, mapOp: 'delete_batch' as const, mapType: 'hash' as const, err: 'ENOENT', value: null, count: 1 };
    expect(compare(prediction({ mapOps: [batch] }), observation({ mapOps: [batch] })).status).toBe('pass');
    expect(compare(prediction({ mapOps: [batch] }), observation({ mapOps: [{ ...batch, count: 0 }] })).mismatches[0]).toMatchObject({ kind: 'map_op', expected: 'delete_batch: ENOENT count 1', observed: 'delete_batch: ENOENT count 0' });
    // not run and no reason given: the runner's fault; held back (notRun): nothing to compare
    expect(compare(p, observation()).mismatches[0]).toMatchObject({ kind: 'runner_error', step: 2 });
    expect(compare(p, observation({ notRun: [{ program: '(userspace map operations)', reason: 'held back' }] })).mismatches).toEqual([]);
  });

  it('should report verdict_kernel_accepts when the kernel loads a program the oracle rejects', () => {
    const r = compare(prediction(), withPrograms([accepted('rp1_store'), accepted('rp1_sum_it'), accepted('rp1_leak')]));
    expect(r.status).toBe('fail');
    expect(r.mismatches).toHaveLength(1);
    expect(r.mismatches[0]).toMatchObject({ kind: 'verdict_kernel_accepts', program: 'rp1_leak', step: null, observed: 'accepted' });
    expect(r.mismatches[0]!.expected).toContain('refs.unreleased');
  });

  it('should report verdict_kernel_rejects with the kernel log when it refuses a valid program', () => {
    const r = compare(prediction(), withPrograms(
      [accepted('rp1_store'), rejected('rp1_sum_it', LOG_USE_AFTER_DROP, { errno: 13, errnoName: 'EACCES' }), rejected('rp1_leak', LOG_LEAK_NEW)],
      { runs: [run(0, 0, 'rp1_store', 3, { rp1_sum: '0', rp1_neg: '0' })] },
    ));
    expect(r.status).toBe('fail');
    // the missing runs of the rejected program are not a second mismatch
    expect(r.mismatches.map((m) => m.kind)).toEqual(['verdict_kernel_rejects']);
    expect(r.mismatches[0]!.observed).toBe('rejected (verifier, EACCES): R1 type=scalar expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_');
    expect(r.mismatches[0]!.detail).toContain(LOG_USE_AFTER_DROP);
  });

  it('should report a message mismatch with a test_loader explanation when the log lacks the expected lines', () => {
    const p = prediction({ programs: [...prediction().programs.slice(0, 2), { program: 'rp1_leak', verdict: 'rejected', expected: USE_AFTER_DROP, alternatives: [] }] });
    const r = compare(p, observation());
    expect(r.status).toBe('fail');
    expect(r.mismatches).toHaveLength(1);
    const m = r.mismatches[0]!;
    expect(m.kind).toBe('message');
    expect(m.observed).toBe('rejected (verifier, EINVAL): BPF_EXIT instruction in main prog would lead to reference leak');
    expect(m.detail).toContain("EXPECTED SUBSTR: 'R1 type=scalar");
    expect(m.detail).toContain("UNEXPECTED       : 'BPF_EXIT instruction");
    expect(m.detail).toContain(LOG_LEAK_NEW);
  });

  it('should accept any alternative message a correct verifier may report first', () => {
    const p = prediction({ programs: [...prediction().programs.slice(0, 2), { program: 'rp1_leak', verdict: 'rejected', expected: USE_AFTER_DROP, alternatives: [LEAK] }] });
    expect(compare(p, observation()).status).toBe('pass');
  });

  it('should require the rejection stage to match as well as the lines', () => {
    const o = withPrograms([accepted('rp1_store'), accepted('rp1_sum_it'), rejected('rp1_leak', LOG_LEAK_NEW, { stage: 'libbpf' })]);
    const r = compare(prediction(), o);
    expect(r.mismatches.map((m) => m.kind)).toEqual(['message']);
    expect(r.mismatches[0]!.detail).toContain('stage verifier (observed libbpf)');
  });

  it('should report a value mismatch per differing global and for retval, and skip unpredictable globals', () => {
    const o = observation({
      runs: [
        run(0, 0, 'rp1_store', 1, { rp1_sum: '0', rp1_neg: '0' }),
        run(1, 0, 'rp1_sum_it', 0, { rp1_sum: '5', rp1_neg: '12345' }, 1),
        run(1, 1, 'rp1_sum_it', 0, { rp1_sum: '15', rp1_neg: '-7' }, 1),
      ],
    });
    const r = compare(prediction(), o);
    expect(r.status).toBe('fail');
    expect(r.mismatches.map((m) => [m.kind, m.program, m.step, m.expected, m.observed])).toEqual([
      ['value', 'rp1_store', 0, 'retval=3', 'retval=1'],
      ['value', 'rp1_sum_it', 1, 'rp1_sum=10', 'rp1_sum=15'],
    ]);
    expect(r.mismatches[1]!.detail).toContain('step 1 iteration 1: rp1_sum_it on CPU 1');
  });

  it('should report a global the runner did not read', () => {
    const o = observation({ runs: [run(0, 0, 'rp1_store', 3, { rp1_neg: '0' }), ...observation().runs.slice(1)] });
    expect(compare(prediction(), o).mismatches.map((m) => m.observed)).toEqual(['rp1_sum=(not reported)']);
  });

  it('should report every splat as a splat mismatch', () => {
    const o = observation({ splats: [{ kind: 'warn', text: 'WARNING: CPU: 1 PID: 9 at kernel/bpf/memalloc.c:1 __free_by_rcu\nCall Trace:', during: 'rp1_store' }] });
    const r = compare(prediction(), o);
    expect(r.status).toBe('fail');
    expect(r.mismatches).toEqual([{
      kind: 'splat', program: 'rp1_store', step: null, expected: 'no kernel splat',
      observed: 'warn: WARNING: CPU: 1 PID: 9 at kernel/bpf/memalloc.c:1 __free_by_rcu',
      detail: 'WARNING: CPU: 1 PID: 9 at kernel/bpf/memalloc.c:1 __free_by_rcu\nCall Trace:',
    }]);
  });

  it('should give status skip with the reason, never pass, when the runner skipped the scenario', () => {
    const r = compare(prediction(), observation({ skipped: 'program type fentry cannot be loaded here', programs: [], runs: [] }));
    expect(r.status).toBe('skip');
    expect(r.skipReason).toBe('program type fentry cannot be loaded here');
    expect(r.mismatches).toEqual([]);
  });

  it('should give status error with a runner_error mismatch when the runner failed', () => {
    const r = compare(prediction(), observation({ error: { code: 'KPTR_VM_TIMEOUT', message: 'no output for 60 s' }, programs: [accepted('rp1_store')], runs: [] }));
    expect(r.status).toBe('error');
    expect(r.mismatches).toEqual([{
      kind: 'runner_error', program: null, step: null, expected: 'the runner completes the scenario',
      observed: 'KPTR_VM_TIMEOUT: no output for 60 s', detail: 'KPTR_VM_TIMEOUT: no output for 60 s',
    }]);
  });

  it('should still fail, not error, when a runner error comes with a kernel splat', () => {
    const r = compare(prediction(), observation({
      error: { code: 'KPTR_VM_TIMEOUT', message: 'guest died' }, runs: [],
      splats: [{ kind: 'panic', text: 'Kernel panic - not syncing: Fatal exception', during: null }],
    }));
    expect(r.status).toBe('fail');
    expect(r.mismatches.map((m) => m.kind)).toEqual(['runner_error', 'splat']);
  });

  it('should report a failed BPF_PROG_TEST_RUN as a runner error', () => {
    const o = observation({ runs: [{ ...run(0, 0, 'rp1_store', 0, {}), err: 'ENOTSUPP', retval: null }, ...observation().runs.slice(1)] });
    const r = compare(prediction(), o);
    expect(r.status).toBe('error');
    expect(r.mismatches.map((m) => [m.kind, m.program, m.step, m.observed])).toEqual([['runner_error', 'rp1_store', 0, 'BPF_PROG_TEST_RUN failed: ENOTSUPP']]);
  });

  it('should call a missing run with no reason a runner error, and a program without load event too', () => {
    const r = compare(prediction(), observation({ programs: [accepted('rp1_store'), accepted('rp1_sum_it')], runs: observation().runs.slice(0, 2) }));
    expect(r.status).toBe('error');
    expect(r.mismatches.map((m) => [m.kind, m.program, m.step])).toEqual([['runner_error', 'rp1_leak', null], ['runner_error', 'rp1_sum_it', 1]]);
  });

  it('should report divergence, listing the ids, when a DivergenceHit explains every mismatch', () => {
    const p = prediction({ divergences: [{ program: 'rp1_leak', step: null, divergenceId: 'xchg_plain_into_percpu_6_18', hostUnsafe: true, splat: false, kind: 'accepts_invalid' }] });
    const r = compare(p, withPrograms([accepted('rp1_store'), accepted('rp1_sum_it'), accepted('rp1_leak')]));
    expect(r.status).toBe('divergence');
    expect(r.divergences).toEqual(['xchg_plain_into_percpu_6_18']);
    expect(r.mismatches.map((m) => m.kind)).toEqual(['verdict_kernel_accepts']);
  });

  it('should explain an unattributed splat by a host-unsafe or splat-logging divergence of the scenario only', () => {
    const splats = [{ kind: 'oops' as const, text: 'BUG: unable to handle page fault', during: null }];
    const unsafe = prediction({ divergences: [{ program: 'rp1_leak', step: null, divergenceId: 'd1', hostUnsafe: true, splat: false, kind: 'accepts_invalid' }] });
    const safe = prediction({ divergences: [{ program: 'rp1_leak', step: null, divergenceId: 'd1', hostUnsafe: false, splat: false, kind: 'accepts_invalid' }] });
    const warns = prediction({ divergences: [{ program: 'rp1_leak', step: null, divergenceId: 'd1', hostUnsafe: false, splat: true, kind: 'accepts_invalid' }] });
    expect(compare(unsafe, observation({ splats })).status).toBe('divergence');
    expect(compare(warns, observation({ splats })).status).toBe('divergence');
    expect(compare(safe, observation({ splats })).status).toBe('fail');
    // a splat printed after the scenario's programs finished (an RCU callback freeing its maps) is unattributed too
    const late = [{ ...splats[0]!, during: 'after the case ended' }];
    expect(compare(unsafe, observation({ splats: late })).status).toBe('divergence');
  });

  it('should explain a splat in another program by a host-unsafe divergence whose divergently accepted program ran', () => {
    // rp1_leak, accepted only by this kernel (host-unsafe), ran at step 0; rp1_sum_it then oopsed on what it left
    const oops = [{ kind: 'oops' as const, text: 'BUG: emulated fault in rp1_sum_it at insn 47: bpf_this_cpu_ptr: not a per-CPU object', during: 'rp1_sum_it' }];
    const hit = { program: 'rp1_leak', step: null, divergenceId: 'd1', hostUnsafe: true, splat: true, kind: 'accepts_invalid' as const };
    const programs = [accepted('rp1_store'), accepted('rp1_sum_it'), accepted('rp1_leak')];
    const ran = observation({ programs, splats: oops, runs: [...observation().runs, run(0, 0, 'rp1_leak', 0, { rp1_sum: '0', rp1_neg: '0' })] });
    expect(compare(prediction({ divergences: [hit] }), ran)).toMatchObject({ status: 'divergence', divergences: ['d1'] });
    // not when the divergent program never ran, nor when its divergence is not known to corrupt the kernel
    expect(compare(prediction({ divergences: [hit] }), observation({ programs, splats: oops })).status).toBe('fail');
    expect(compare(prediction({ divergences: [{ ...hit, hostUnsafe: false }] }), ran).status).toBe('fail');
  });

  it('should lay the missing runs of a program that died in its splat at what explains the splat (an emulator fault)', () => {
    // s1_5311 (emulator campaign, seed 1): rp1_leak put a plain object in the slot; rp1_sum_it's bpf_per_cpu_ptr on it
    // faulted, so its runs never ended: no run events, one oops during it
    const oops = [{ kind: 'oops' as const, text: 'BUG: emulated fault in rp1_sum_it at insn 32: bpf_per_cpu_ptr: not a per-CPU object', during: 'rp1_sum_it' }];
    const hit = { program: 'rp1_leak', step: null, divergenceId: 'd1', hostUnsafe: true, splat: true, kind: 'accepts_invalid' as const };
    const programs = [accepted('rp1_store'), accepted('rp1_sum_it'), accepted('rp1_leak')];
    const runs = [...observation().runs.filter((r) => r.program !== 'rp1_sum_it'), run(0, 0, 'rp1_leak', 0, { rp1_sum: '0', rp1_neg: '0' })];
    const died = observation({ programs, splats: oops, runs });
    const r = compare(prediction({ divergences: [hit] }), died);
    expect(r.mismatches.filter((m) => m.kind === 'runner_error').map((m) => m.program)).toEqual(['rp1_sum_it', 'rp1_sum_it']);
    expect(r).toMatchObject({ status: 'divergence', divergences: ['d1'] });
    // the splat unexplained (its divergence not known to corrupt the kernel): the missing runs stay the runner's failure
    expect(compare(prediction({ divergences: [{ ...hit, hostUnsafe: false, splat: false }] }), died).status).toBe('fail');
    // a warning is not a death: runs missing after one are still the runner's failure
    const warned = observation({ programs, splats: [{ ...oops[0]!, kind: 'warn' as const }], runs });
    expect(compare(prediction({ divergences: [hit] }), warned).status).toBe('error');
  });

  it('should explain a guest panic with a splat by a host-unsafe divergence, and only then', () => {
    const splats = [{ kind: 'panic' as const, text: 'Kernel panic - not syncing: Fatal exception in interrupt', during: null }];
    const error = { code: 'KPTR_VM_PANIC', message: 'the guest kernel panicked during this case' };
    const unsafe = prediction({ divergences: [{ program: 'rp1_leak', step: null, divergenceId: 'd1', hostUnsafe: true, splat: false, kind: 'accepts_invalid' }] });
    const died = observation({ error, splats, runs: [] });
    const r = compare(unsafe, died);
    expect(r.status).toBe('divergence');
    expect(r.divergences).toEqual(['d1']);
    expect(r.mismatches.map((m) => m.kind)).toContain('runner_error');
    // no splat to show the kernel broke, or a hang with no fatal splat before it: the runner's failure stands
    expect(compare(unsafe, observation({ error, splats: [], runs: [] })).status).toBe('error');
    const timeout = { code: 'KPTR_VM_TIMEOUT', message: 'the guest stopped answering' };
    const hang = { kind: 'hang' as const, text: 'no result within the case timeout', during: null };
    expect(compare(unsafe, observation({ error: timeout, splats: [hang], runs: [] })).status).toBe('error');
    // silence after an Oops (one in an RCU callback stalls the guest) is the kernel dying too
    const oops = { kind: 'oops' as const, text: 'BUG: unable to handle page fault for address: ff44cc9c57fed000', during: null };
    expect(compare(unsafe, observation({ error: timeout, splats: [oops, hang], runs: [] })).status).toBe('divergence');
  });

  it('should lay the values after a divergently accepted program ran at that divergence, and not those before', () => {
    // the kernel accepts rp1_leak (a known divergence) and a VM runs it as step 0, before rp1_sum_it reads its effect
    const p = prediction({ divergences: [{ program: 'rp1_leak', step: null, divergenceId: 'd1', hostUnsafe: true, splat: false, kind: 'accepts_invalid' }] });
    const programs = [accepted('rp1_store'), accepted('rp1_sum_it'), accepted('rp1_leak')];
    const after = observation({ programs, runs: [
      run(0, 0, 'rp1_store', 3, { rp1_sum: '0', rp1_neg: '0' }),
      run(0, 0, 'rp1_leak', 0, { rp1_sum: '0', rp1_neg: '0' }),
      run(1, 0, 'rp1_sum_it', 0, { rp1_sum: '82', rp1_neg: '-1' }, 1),
      run(1, 1, 'rp1_sum_it', 0, { rp1_sum: '123', rp1_neg: '-1' }, 1),
    ] });
    const r = compare(p, after);
    expect(r.status).toBe('divergence');
    expect(r.mismatches.map((m) => m.kind)).toEqual(['verdict_kernel_accepts', 'value', 'value']);
    // a wrong value before the divergent program ever ran is still a finding
    const before = observation({ programs, runs: [
      run(0, 0, 'rp1_store', 9, { rp1_sum: '0', rp1_neg: '0' }),
      run(1, 0, 'rp1_leak', 0, { rp1_sum: '0', rp1_neg: '0' }),
      ...observation().runs.slice(1),
    ] });
    expect(compare(p, before).status).toBe('fail');
    // so is a userspace map operation after it: the element holds what the divergent program put there
    const lookup = { step: 2, mapOp: 'lookup_batch' as const, mapType: 'hash' as const, err: 'ENOENT', value: null, count: 0 };
    const withOp = prediction({ divergences: p.divergences, mapOps: [lookup] });
    const found = { ...lookup, value: [['0', '0']], count: 1, keys: [0] };
    expect(compare(withOp, { ...after, mapOps: [found] }).status).toBe('divergence');
    const lateLeak = observation({ programs, runs: [...observation().runs, run(5, 0, 'rp1_leak', 0, { rp1_sum: '0', rp1_neg: '0' })] });
    expect(compare(withOp, { ...lateLeak, mapOps: [lookup] }).status).toBe('divergence');
    expect(compare(withOp, { ...lateLeak, mapOps: [found] }).status).toBe('fail');
  });


  it('should lay what a valid program refused by a divergent kernel would have done at that divergence, from its first predicted run on', () => {
    // rp1_sum_it is valid, a known rejects_valid divergence makes this kernel refuse it: its runs (step 1) are missing
    // and what reads their effect later (a userspace lookup at step 2) sees what the refused program did not write
    const hit = { program: 'rp1_sum_it', step: null, divergenceId: 'refused', hostUnsafe: false, splat: true, kind: 'rejects_valid' as const };
    const lookup = { step: 2, mapOp: 'lookup' as const, mapType: 'hash' as const, err: null, value: [['82', '0']] };
    const p = prediction({ divergences: [hit], mapOps: [lookup] });
    const programs = [accepted('rp1_store'), rejected('rp1_sum_it', LOG_USE_AFTER_DROP, { errno: 14, errnoName: 'EFAULT' }), rejected('rp1_leak', LOG_LEAK_NEW)];
    const refused = observation({ programs, runs: observation().runs.slice(0, 1), mapOps: [{ ...lookup, err: 'ENOENT', value: null }] });
    const r = compare(p, refused);
    expect([r.status, r.divergences]).toEqual(['divergence', ['refused']]);
    expect(r.mismatches.map((m) => m.kind)).toEqual(['verdict_kernel_rejects', 'map_op']);
    // without the divergence the missing element is a finding; so is a wrong value before the refused program's first run
    expect(compare(prediction({ mapOps: [lookup] }), refused).status).toBe('fail');
    const early = observation({ programs, runs: [run(0, 0, 'rp1_store', 9, { rp1_sum: '0', rp1_neg: '0' })], mapOps: [lookup] });
    expect(compare(p, early).status).toBe('fail');
  });


  it('should explain a wrong zero-filled value by a value divergence, and nothing else by it', () => {
    const hit = { program: 'rp1_store', step: null, divergenceId: 'uncleared', hostUnsafe: false, splat: false, kind: 'value' as const };
    const base = prediction();
    const steps = base.steps.map((s, i) => (i === 0 ? { ...s, zeroFilled: ['rp1_neg'] } : s));
    const dirty = (neg: string, retval = 3) => observation({ runs: [run(0, 0, 'rp1_store', retval, { rp1_sum: '0', rp1_neg: neg }), ...observation().runs.slice(1)] });
    const r = compare(prediction({ steps, divergences: [hit] }), dirty('21'));
    expect([r.status, r.divergences]).toEqual(['divergence', ['uncleared']]);
    // without the divergence on this kernel the stale value is a finding
    expect(compare(prediction({ steps }), dirty('21')).status).toBe('fail');
    // a global the oracle computed from written memory, or the retval, is not the allocator's doing
    expect(compare(prediction({ steps: base.steps, divergences: [hit] }), dirty('21')).status).toBe('fail');
    expect(compare(prediction({ steps, divergences: [hit] }), dirty('0', 9)).status).toBe('fail');
    // nor is a verdict of the same program
    const verdict = prediction({ divergences: [{ ...hit, program: 'rp1_leak' }] });
    expect(compare(verdict, withPrograms([accepted('rp1_store'), accepted('rp1_sum_it'), accepted('rp1_leak')])).status).toBe('fail');
  });

  it('should fail, with no divergence listed, when one mismatch is explained and another is not', () => {
    const p = prediction({ divergences: [{ program: 'rp1_leak', step: null, divergenceId: 'd1', hostUnsafe: false, splat: false, kind: 'accepts_invalid' }] });
    const o = withPrograms([accepted('rp1_store'), accepted('rp1_sum_it'), accepted('rp1_leak')], {
      runs: [run(0, 0, 'rp1_store', 9, { rp1_sum: '0', rp1_neg: '0' }), ...observation().runs.slice(1)],
    });
    const r = compare(p, o);
    expect(r.status).toBe('fail');
    expect(r.divergences).toEqual([]);
    expect(r.mismatches.map((m) => m.kind)).toEqual(['verdict_kernel_accepts', 'value']);
  });

  it('should not count steps the host gate held back, and note it when nothing ran at all', () => {
    const notRun = [{ program: 'rp1_store', reason: 'not well-formed' }, { program: 'rp1_sum_it', reason: 'not well-formed' }];
    const r = compare(prediction(), observation({ runs: [], notRun }));
    expect(r.status).toBe('pass');
    expect(r.mismatches).toEqual([]);
    expect(r.skipReason).toBe('not executed: rp1_store: not well-formed; rp1_sum_it: not well-formed');
  });

  it('should leave skipReason null when only some programs were held back', () => {
    const r = compare(prediction(), observation({ runs: observation().runs.slice(0, 1), notRun: [{ program: 'rp1_sum_it', reason: 'verify only' }] }));
    expect(r.status).toBe('pass');
    expect(r.skipReason).toBeNull();
  });

  it('should compare u64 values numerically', () => {
    const o = observation({ runs: [run(0, 0, 'rp1_store', 3, { rp1_sum: '00', rp1_neg: '0' }), ...observation().runs.slice(1)] });
    expect(compare(prediction(), o).status).toBe('pass');
    const big = prediction({ steps: [{ step: 0, iteration: 0, program: 'rp1_store', retval: 3, globals: { rp1_sum: '18446744073709551615' }, zeroFilled: [] }] });
    const o2 = observation({ runs: [run(0, 0, 'rp1_store', 3, { rp1_sum: '18446744073709551614' })] });
    expect(compare(big, o2).mismatches.map((m) => m.observed)).toEqual(['rp1_sum=18446744073709551614']);
  });

  it('should survive a JSON round trip unchanged', () => {
    const r = compare(prediction(), withPrograms([accepted('rp1_store'), accepted('rp1_sum_it'), accepted('rp1_leak')]));
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});

describe('compare with the outcomes of a concurrent step', () => {
  // rp1_store on CPU 0 and rp1_sum_it (once) on CPU 1 at once in step 0: two outcomes, by which went first
  const step = (program: string, cpu: number, retval: number, sum: string) => ({ step: 0, iteration: 0, program, retval, globals: { rp1_sum: sum, rp1_neg: null }, zeroFilled: [], cpu });
  const outcomes = [
    { steps: [step('rp1_store', 0, 3, '5'), step('rp1_sum_it', 1, 0, '5')], mapOps: [] },
    { steps: [step('rp1_store', 0, 3, '0'), step('rp1_sum_it', 1, 1, '0')], mapOps: [] },
  ];
  const p = prediction({ steps: outcomes[0]!.steps, outcomes, outcomesComplete: true });
  const observed = (sumRetval: number, sum: string): Observation => observation({
    runs: [run(0, 0, 'rp1_store', 3, { rp1_sum: sum, rp1_neg: '-1' }, 0), run(0, 0, 'rp1_sum_it', sumRetval, { rp1_sum: sum, rp1_neg: '-1' }, 1)],
  });

  it('should accept an observation equal to any one outcome, matching the two runs of one step by CPU', () => {
    expect(compare(p, observed(0, '5')).status).toBe('pass');
    expect(compare(p, observed(1, '0')).status).toBe('pass');
  });

  it('should reject one no interleaving gives, with the mismatches of the closest outcome', () => {
    // the sum of the first outcome with the return value of the second: one mismatch away from each, the first wins
    const r = compare(p, observed(1, '5'));
    expect(r.status).toBe('fail');
    expect(r.mismatches.map((m) => [m.kind, m.program, m.expected, m.observed])).toEqual([['value', 'rp1_sum_it', 'retval=0', 'retval=1']]);
    expect(r.mismatches[0]?.detail).toContain('none of the 2 outcomes the interleavings of the concurrent runs allow; closest: outcome 1');
    expect(compare({ ...p, outcomesComplete: false }, observed(1, '5')).mismatches[0]?.detail).toContain('only part of the interleavings');
  });
});
