import { describe, expect, it } from 'vitest';
import { compare } from '../../../judge/compare.ts';
import {
  classify, compareWithEmulator, emulatorCaseLines, emulatorSummaryLine, emulatorTally, errorLinesAgree,
} from '../../../judge/emulatorComparison.ts';
import type { Observation } from '../../../types/index.ts';
import { accepted, LOG_LEAK_NEW, LOG_USE_AFTER_DROP, observation, prediction, rejected, run } from '../reports/fixtures/cases.ts';

/** What the emulator prints for the leak: the error sites' lines and its own insn count, no instruction trace. */
const EMU_LOG_LEAK = 'Unreleased reference id=2 alloc_insn=3\nBPF_EXIT instruction in main prog would lead to reference leak\nprocessed 4 insns (limit 1000000)\n';
const EMU_LOG_USE_AFTER_DROP = 'R1 type=scalar expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_\nprocessed 9 insns (limit 1000000)\n';

/** The emulator's observation of the fixture scenario: the kernel's, with the emulator's own log for the leak. */
function emulated(over: Partial<Observation> = {}): Observation {
  const kernel = observation();
  return {
    ...kernel,
    runner: 'emulator',
    programs: [accepted('rp1_store'), accepted('rp1_sum_it'), rejected('rp1_leak', EMU_LOG_LEAK)],
    ...over,
  };
}

/** The three-way comparison of a kernel and an emulator observation against the fixture prediction. */
function threeWay(kernel: Observation, emulator: Observation) {
  const p = prediction();
  return compareWithEmulator({ profile: '6.18.44', kernel, emulator, kernelResult: compare(p, kernel), emulatorResult: compare(p, emulator) });
}

describe('classify', () => {
  it.each([
    // emulator = kernel, kernel = oracle, emulator = oracle
    [true, true, true, 'agree'],
    [true, false, false, 'divergence'],
    [false, true, false, 'emulator_gap'],
    [false, true, true, 'emulator_gap'],
    [false, false, true, 'kernel_finding'],
    [false, false, false, 'all_differ'],
  ] as const)('emulator=kernel %s, kernel=oracle %s, emulator=oracle %s → %s', (ek, ko, eo, want) => {
    expect(classify(ek, ko, eo)).toBe(want);
  });
});

describe('errorLinesAgree', () => {
  it('should find the emulator\'s error lines in order in the kernel\'s full log, ignoring its insn count', () => {
    expect(errorLinesAgree(LOG_LEAK_NEW, EMU_LOG_LEAK)).toBe(true);
  });

  it('should not agree when a line is missing or out of order', () => {
    expect(errorLinesAgree(LOG_LEAK_NEW, EMU_LOG_USE_AFTER_DROP)).toBe(false);
    expect(errorLinesAgree(LOG_LEAK_NEW, 'BPF_EXIT instruction in main prog would lead to reference leak\nUnreleased reference id=2 alloc_insn=3\n')).toBe(false);
  });
});

describe('compareWithEmulator', () => {
  it('should agree when verdicts, error lines and every run the kernel made are the same', () => {
    const c = threeWay(observation(), emulated());
    expect(c).toMatchObject({ class: 'agree', programs: 3, programsAgreeing: 3, runs: 3, runsAgreeing: 3, differences: [], knownDivergences: [] });
  });

  it('should call an emulator that differs from a kernel the oracle agrees with an emulator gap, naming the error line', () => {
    const c = threeWay(observation(), emulated({ programs: [accepted('rp1_store'), accepted('rp1_sum_it'), rejected('rp1_leak', EMU_LOG_USE_AFTER_DROP)] }))!;
    expect(c.class).toBe('emulator_gap');
    expect(c.programsAgreeing).toBe(2);
    expect(c.differences).toEqual([{
      what: 'error_line', program: 'rp1_leak', step: null,
      kernel: 'BPF_EXIT instruction in main prog would lead to reference leak',
      emulator: 'R1 type=scalar expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_',
    }]);
  });

  it('should call a kernel that differs from an emulator and oracle that agree a kernel finding', () => {
    const kernel = observation({ programs: [accepted('rp1_store'), rejected('rp1_sum_it', LOG_USE_AFTER_DROP, { errno: 13, errnoName: 'EACCES' }), rejected('rp1_leak', LOG_LEAK_NEW)], runs: [run(0, 0, 'rp1_store', 3, { rp1_sum: '0', rp1_neg: '0' })] });
    const c = threeWay(kernel, emulated())!;
    expect(c.class).toBe('kernel_finding');
    expect(c.differences).toEqual([expect.objectContaining({ what: 'verdict', program: 'rp1_sum_it', emulator: 'accepted' })]);
    expect(c.differences[0]!.kernel).toBe('rejected: EACCES: R1 type=scalar expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_');
  });

  it('should call an emulator and kernel that agree against the oracle a divergence', () => {
    const both = { programs: [accepted('rp1_store'), accepted('rp1_sum_it'), accepted('rp1_leak')] };
    const c = threeWay(observation(both), emulated(both))!;
    expect(c.class).toBe('divergence');
    expect(c.differences).toEqual([]);
  });

  it('should compare the values of every run the kernel made, and count a run the emulator did not make', () => {
    const kernel = observation();
    const runs = [run(0, 0, 'rp1_store', 3, { rp1_sum: '0', rp1_neg: '0' }), run(1, 0, 'rp1_sum_it', 1, { rp1_sum: '6', rp1_neg: '-1' }, 1)];
    const c = threeWay(kernel, emulated({ runs }))!;
    expect(c.runs).toBe(3);
    expect(c.runsAgreeing).toBe(1);
    expect(c.differences.map((d) => [d.what, d.step, d.kernel, d.emulator])).toEqual([
      ['value', 1, 'retval 0', 'retval 1'],
      ['value', 1, 'rp1_sum=5', 'rp1_sum=6'],
      ['run', 1, 'ran on cpu 1', 'did not run'],
    ]);
    expect(c.class).toBe('emulator_gap');
  });

  it('should not compare a retval the kernel does not report (tracing programs)', () => {
    const kernel = observation({ runs: [{ ...run(0, 0, 'rp1_store', 3, { rp1_sum: '0', rp1_neg: '0' }), retval: null }] });
    const c = threeWay(kernel, emulated({ runs: [run(0, 0, 'rp1_store', 0, { rp1_sum: '0', rp1_neg: '0' })] }))!;
    expect(c).toMatchObject({ runs: 1, runsAgreeing: 1, differences: [] });
  });

  it('should name the known divergence that explains a kernel finding (the allocator\'s uncleared reuse)', () => {
    const p = prediction();
    const [first, ...rest] = observation().runs;
    const kernel = observation({ runs: [{ ...first!, globals: { ...first!.globals, rp1_sum: '21' } }, ...rest] });
    const emulator = emulated();
    const kernelResult = { ...compare(p, kernel), status: 'divergence' as const, divergences: ['percpu_obj_new_uncleared'] };
    const c = compareWithEmulator({ profile: '6.12', kernel, emulator, kernelResult, emulatorResult: compare(p, emulator) })!;
    expect(c).toMatchObject({ class: 'kernel_finding', knownDivergences: ['percpu_obj_new_uncleared'] });
    expect(emulatorCaseLines('rp1', c)[0]).toBe('EMULATOR KERNEL_FINDING rp1 (profile 6.12; the kernel\'s side is the known divergence percpu_obj_new_uncleared)');
  });

  it('should ignore runs only the emulator made (the host executes only what is safe)', () => {
    const c = threeWay(observation({ runs: [] }), emulated());
    expect(c).toMatchObject({ runs: 0, runsAgreeing: 0, differences: [] });
  });

  it('should record an emulator that could not model the scenario, and compare nothing for a kernel that did not run it', () => {
    const c = threeWay(observation(), emulated({ error: { code: 'KPTR_EMULATOR_UNSUPPORTED', message: 'rp1_leak: insn not modelled (insn 3)' } }))!;
    expect(c.differences[0]).toMatchObject({ what: 'emulator_error', emulator: 'KPTR_EMULATOR_UNSUPPORTED: rp1_leak: insn not modelled (insn 3)' });
    expect(c.class).toBe('emulator_gap');
    expect(threeWay(observation({ skipped: 'fentry unsupported' }), emulated())).toBeNull();
    expect(threeWay(observation({ error: { code: 'KPTR_VM_TIMEOUT', message: 'guest hung' } }), emulated())).toBeNull();
  });
});

describe('emulatorTally', () => {
  it('should count classes, programs and runs, and say them in one line', () => {
    const t = emulatorTally('6.12');
    t.add(threeWay(observation(), emulated())!);
    t.add(threeWay(observation(), emulated({ programs: [accepted('rp1_store'), accepted('rp1_sum_it'), rejected('rp1_leak', EMU_LOG_USE_AFTER_DROP)] }))!);
    const s = t.summary();
    expect(s).toEqual({
      profile: '6.12', cases: 2, programs: 6, programsAgreeing: 5, runs: 6, runsAgreeing: 6,
      byClass: { agree: 1, divergence: 0, emulator_gap: 1, kernel_finding: 0, all_differ: 0 },
    });
    expect(emulatorSummaryLine(s)).toBe('emulator (profile 6.12) vs kernel: 5/6 programs agree (83.33 %), 6/6 runs (100.00 %); 2 cases: 1 agree, 0 divergence, 1 emulator gap, 0 kernel finding, 0 all differ');
  });

  it('should print nothing for an agreeing case and each difference for another', () => {
    expect(emulatorCaseLines('rp1', threeWay(observation(), emulated())!)).toEqual([]);
    const lines = emulatorCaseLines('rp1', threeWay(observation(), emulated({ runs: [] }))!);
    expect(lines[0]).toBe('EMULATOR EMULATOR_GAP rp1 (profile 6.18.44)');
    expect(lines).toHaveLength(4);
  });
});

describe('compareWithEmulator and concurrent steps', () => {
  it('should leave the values of a concurrent step and after to each side\'s comparison with the oracle', () => {
    // the kernel ran the two runs of step 1 the other way round from the emulator's serial order: another sum
    const kernel = observation({ runs: [run(0, 0, 'rp1_store', 3, { rp1_sum: '0', rp1_neg: '0' }), run(1, 0, 'rp1_sum_it', 0, { rp1_sum: '7', rp1_neg: '-1' }, 1)] });
    const emulator = emulated({ runs: [run(0, 0, 'rp1_store', 3, { rp1_sum: '0', rp1_neg: '0' }), run(1, 0, 'rp1_sum_it', 0, { rp1_sum: '5', rp1_neg: '-1' }, 1)] });
    const p = prediction();
    const c = (concurrentFrom: number | null) => compareWithEmulator({ profile: '6.18.44', kernel, emulator, kernelResult: compare(p, kernel), emulatorResult: compare(p, emulator), concurrentFrom })!;
    expect(c(null).differences.map((d) => [d.what, d.step, d.kernel, d.emulator])).toEqual([['value', 1, 'rp1_sum=7', 'rp1_sum=5']]);
    expect(c(1).differences).toEqual([]);
    expect(c(1).runsAgreeing).toBe(2);
  });
});

describe('compareWithEmulator and values the oracle leaves open', () => {
  it('should leave a global the prediction leaves undetermined to each side\'s comparison with the oracle', () => {
    // s2_3184 (6.12 VM, seed 2): a field of a fresh bpf_obj_new object read into a global. The kernel does not clear
    // the object (whatever the allocator's last user left: the kernel read -1, the emulator's fresh memory 0), and the
    // oracle predicts no value: neither side is wrong, so it is no emulator gap
    const p = prediction();
    const kernel = observation({ runs: [run(0, 0, 'rp1_store', 3, { rp1_sum: '0', rp1_neg: '0' }), run(1, 0, 'rp1_sum_it', 0, { rp1_sum: '5', rp1_neg: '18446744073709551615' }), run(1, 1, 'rp1_sum_it', 0, { rp1_sum: '10', rp1_neg: '0' })] });
    const emulator = emulated({ runs: [run(0, 0, 'rp1_store', 3, { rp1_sum: '0', rp1_neg: '0' }), run(1, 0, 'rp1_sum_it', 0, { rp1_sum: '5', rp1_neg: '0' }), run(1, 1, 'rp1_sum_it', 0, { rp1_sum: '10', rp1_neg: '0' })] });
    const c = compareWithEmulator({ profile: '6.12', kernel, emulator, kernelResult: compare(p, kernel), emulatorResult: compare(p, emulator), predicted: p.steps })!;
    expect(c).toMatchObject({ class: 'agree', runs: 3, runsAgreeing: 3, differences: [] });
    // a global the oracle does predict is still compared between the two
    const other = emulated({ runs: [run(0, 0, 'rp1_store', 3, { rp1_sum: '0', rp1_neg: '0' }), run(1, 0, 'rp1_sum_it', 0, { rp1_sum: '6', rp1_neg: '0' }), run(1, 1, 'rp1_sum_it', 0, { rp1_sum: '10', rp1_neg: '0' })] });
    const d = compareWithEmulator({ profile: '6.12', kernel, emulator: other, kernelResult: compare(p, kernel), emulatorResult: compare(p, other), predicted: p.steps })!;
    expect(d.class).toBe('emulator_gap');
    expect(d.differences.map((x) => [x.step, x.kernel, x.emulator])).toEqual([[1, 'rp1_sum=5', 'rp1_sum=6']]);
  });
});
