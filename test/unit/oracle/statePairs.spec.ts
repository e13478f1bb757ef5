import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../../specs/load.ts';
import { predict } from '../../../oracle/predict.ts';
import { statePairVocabulary } from '../../../oracle/statePairs.ts';
import { statePairKey, type KernelTarget, type Op, type ProgType } from '../../../types/index.ts';
import { prog, scenario } from './fixtures/build.ts';

const spec = loadSpec();
const kernel = (version: string): KernelTarget => ({ version, nrCpus: 2, divergences: [] }) as unknown as KernelTarget;
const ALL: ProgType[] = ['tc', 'syscall', 'fentry', 'fentry.s'];

const lookup: Op = { op: 'lookup', slot: 'array', dst: 'e' };
const newP: Op = { op: 'new', dst: 'p', struct: 'val_t', percpu: true };
const retIfNull = (v: string): Op => ({ op: 'if', var: v, is: 'null', then: [{ op: 'return', value: 0 }] });
const pairsOf = (ops: Op[], t: ProgType = 'tc'): string[] =>
  predict(scenario([prog('t', t, ops)], { globals: [{ name: 'out', ctype: 'long' }] }), kernel('6.18.44'), spec).statePairs.map(statePairKey).sort();

describe('state pairs the oracle reports', () => {
  it('should name each pointer an op takes by its state, once, with the program type', () => {
    const ops: Op[] = [
      lookup, newP,
      { op: 'xchg', slot: 'array', src: 'p', dst: 'old' },
      { op: 'if', var: 'old', is: 'nonnull', then: [{ op: 'drop', var: 'old', percpu: true }] },
      { op: 'load', slot: 'array', dst: 'r' }, retIfNull('r'),
      { op: 'this_cpu_ptr', src: 'r', dst: 'x' },
      { op: 'write', ptr: 'x', field: 'd', value: '1' },
      { op: 'sum', src: 'r', field: 'd', global: 'out' },
    ];
    expect(pairsOf(ops, 'fentry')).toEqual([
      'percpu_obj_drop percpu_ptr_ fentry', 'sum percpu_rcu_ptr_ fentry', 'this_cpu_ptr percpu_rcu_ptr_ fentry',
      'write rcu_ptr_ fentry', 'xchg percpu_ptr_or_null_ fentry',
    ]);
  });

  it('should stop counting at the first error, as the verifier stops there (a NULL pointer\'s op included)', () => {
    const ops: Op[] = [
      newP,
      { op: 'if', var: 'p', is: 'null', then: [{ op: 'drop', var: 'p', percpu: true }, { op: 'return', value: 0 }] },
      { op: 'drop', var: 'p', percpu: true },
    ];
    // the non-NULL path runs first and passes; the NULL branch's drop is the error; nothing after it counts
    expect(pairsOf(ops, 'syscall')).toEqual(['percpu_obj_drop NULL syscall', 'percpu_obj_drop percpu_ptr_ syscall']);
    const dead: Op[] = [newP, retIfNull('p'), { op: 'drop', var: 'p', percpu: true }, { op: 'read', ptr: 'p', field: 'd', global: 'out' }, { op: 'drop', var: 'p', percpu: true }];
    expect(pairsOf(dead)).toEqual(['percpu_obj_drop percpu_ptr_ tc', 'read released tc']);
  });
});

describe('what aiming at pairs showed of the verifier (host 6.18)', () => {
  const single = (ops: Op[]) => scenario([prog('t', 'tc', ops)], { globals: [{ name: 'out', ctype: 'long' }] });
  it('should verify a sum\'s loop body after the rest of the program, as bpf_iter_num_next queues it', () => {
    const newPlain: Op = { op: 'new', dst: 'p', struct: 'val_t', percpu: false };
    const ops: Op[] = [newPlain, retIfNull('p'), { op: 'sum', src: 'p', field: 'd', global: 'out' }, { op: 'drop', var: 'p', percpu: false }, { op: 'rcu_unlock' }];
    const [p0] = predict(single(ops), kernel('6.18.44'), spec).programs;
    expect(p0?.verdict === 'rejected' ? [p0.expected.ruleId, ...p0.alternatives.map((a) => a.ruleId)] : []).toEqual(['rcu.unmatched_unlock', 'percpu_ptr.bad_arg']);
  });
  it('should let a kernel that types bpf_per_cpu_ptr\'s result non-NULL explain how it words a drop of that result', () => {
    const ops: Op[] = [
      lookup, { op: 'load', slot: 'array', dst: 'r' }, retIfNull('r'),
      { op: 'per_cpu_ptr', src: 'r', cpu: 0, dst: 'x' }, { op: 'drop', var: 'x', percpu: true },
    ];
    const p = predict(single(ops), kernel('6.18.44'), spec);
    expect(p.programs[0]).toMatchObject({ verdict: 'rejected', expected: { ruleId: 'percpu_obj_drop.maybe_null' } });
    expect(p.divergences.map((d) => d.divergenceId)).toEqual(['per_cpu_ptr_result_not_maybe_null']);
  });
});

describe('statePairVocabulary', () => {
  it('should hold what a kernel lets programs reach, with the contract\'s word on each', () => {
    expect(statePairVocabulary(spec, kernel('6.1.0'), ALL)).toEqual([]);
    const v618 = statePairVocabulary(spec, kernel('6.18.44'), ALL);
    const v73 = statePairVocabulary(spec, kernel('7.3.0'), ALL);
    const keys = (v: typeof v618) => v.map(statePairKey);
    // 7.3's bpf_rcu_read_unlock leaves a non-sleepable program's RCU pointers trusted: no untrusted pair in tc there
    expect(keys(v618)).toContain('read untrusted_ptr_ tc');
    expect(keys(v73)).not.toContain('read untrusted_ptr_ tc');
    expect(keys(v73)).toContain('read untrusted_ptr_ syscall');
    // only a sleepable program loads a kptr outside an RCU critical section
    expect(keys(v618).filter((k) => k.includes('untrusted_ptr_or_null_')).every((k) => k.endsWith('syscall') || k.endsWith('fentry.s'))).toBe(true);
    const word = (key: string) => v618.find((t) => statePairKey(t) === key);
    expect(word('xchg NULL tc')).toMatchObject({ allowed: true, rule: null });
    expect(word('xchg ptr_ tc')).toMatchObject({ allowed: true, rule: null });
    expect(word('xchg rcu_ptr_ tc')).toMatchObject({ allowed: false, rule: 'kptr_xchg.rcu_src' });
    expect(word('percpu_obj_drop NULL tc')).toMatchObject({ allowed: false, rule: 'percpu_obj_drop.maybe_null' });
    expect(word('percpu_obj_drop percpu_ptr_or_null_ tc')).toMatchObject({ allowed: false, rule: 'percpu_obj_drop.maybe_null' });
    expect(word('write untrusted_ptr_ syscall')).toMatchObject({ allowed: false, rule: 'mem.untrusted_write' });
    expect(word('read untrusted_ptr_ syscall')).toMatchObject({ allowed: true });
    expect(keys(v618)).not.toContain('read map_value tc');
  });
});
