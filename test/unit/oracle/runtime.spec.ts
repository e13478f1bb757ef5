import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadScenarioFile, loadSpec } from '../../../specs/load.ts';
import { predict } from '../../../oracle/predict.ts';
import type { MapType, Op, ProgType, Scenario, ScheduleStep } from '../../../types/index.ts';
import { ARRAY_SLOT, prog, scenario } from './fixtures/build.ts';

const spec = loadSpec();
const lookup: Op = { op: 'lookup', slot: 'array', dst: 'e' };
const retIfNull = (v: string): Op => ({ op: 'if', var: v, is: 'null', then: [{ op: 'return', value: 0 }] });
const store: Op[] = [lookup, { op: 'new', dst: 'p', struct: 'val_t', percpu: true }, retIfNull('p'), { op: 'xchg', slot: 'array', src: 'p', dst: 'p' }, { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'drop', var: 'p', percpu: true }] }];
const locked = (mode: ProgType, ops: Op[]): Op[] => (mode === 'syscall' ? [{ op: 'rcu_lock' }, ...ops, { op: 'rcu_unlock' }] : ops);
const update = (mode: ProgType): Op[] => [lookup, ...locked(mode, [{ op: 'load', slot: 'array', dst: 'p' }, { op: 'if', var: 'p', is: 'nonnull', then: [
  { op: 'per_cpu_ptr', src: 'p', cpu: 0, dst: 'v' },
  { op: 'if', var: 'v', is: 'nonnull', then: [{ op: 'write', ptr: 'v', field: 'c', value: '1' }, { op: 'write', ptr: 'v', field: 'd', value: '2' }] },
] }])];
const read = (mode: ProgType): Op[] => [lookup, ...locked(mode, [{ op: 'load', slot: 'array', dst: 'p' }, { op: 'if', var: 'p', is: 'nonnull', then: [
  { op: 'per_cpu_ptr', src: 'p', cpu: 0, dst: 'v' },
  { op: 'if', var: 'v', is: 'nonnull', then: [{ op: 'read', ptr: 'v', field: 'd', global: 'cpu0_field_d' }] },
  { op: 'sum', src: 'p', field: 'c', global: 'sum_field_c' },
] }])];

function seq(mode: ProgType, mapType: MapType, schedule: ScheduleStep[]): Scenario {
  return scenario([prog('seq_store', mode, store), prog('seq_update', mode, update(mode)), prog('seq_read', mode, read(mode))], {
    slots: [{ ...ARRAY_SLOT, home: { kind: 'map', mapType } }],
    globals: [{ name: 'cpu0_field_d', ctype: 'int' }, { name: 'sum_field_c', ctype: 'int' }],
    schedule,
  });
}
const onCpu = (cpu: number): ScheduleStep[] => ['seq_store', 'seq_update', 'seq_read'].map((program) => ({ program, cpu, repeat: 1 }));
const last = (s: Scenario, nrCpus: number) => predict(s, { version: '6.18.44', nrCpus, divergences: [] }, spec).steps.at(-1);

describe('runtime model', () => {
  it.each([1, 2, 4])('the upstream store/update/read sequence gives d=2, sum=1 with %i CPUs (tc and syscall)', (nrCpus) => {
    for (const mode of ['tc', 'syscall'] as const) {
      const p = predict(seq(mode, 'array', onCpu(0)), { version: '6.18.44', nrCpus, divergences: [] }, spec);
      expect(p.programs.every((x) => x.verdict === 'accepted')).toBe(true);
      expect(p.wellFormed).toBe(true);
      expect(p.steps.map((s) => s.program)).toEqual(['seq_store', 'seq_update', 'seq_read']);
      expect(p.steps.at(-1)?.globals).toEqual({ cpu0_field_d: '2', sum_field_c: '1' });
      expect(p.steps.at(-1)?.retval).toBe(0);
    }
  });
  it('sums every CPU\'s copy, each written by this_cpu_ptr on its own CPU', () => {
    const bump: Op[] = [lookup, { op: 'load', slot: 'array', dst: 'p' }, { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'this_cpu_ptr', src: 'p', dst: 'v' }, { op: 'write', ptr: 'v', field: 'c', value: '5' }] }];
    const sum: Op[] = [lookup, { op: 'load', slot: 'array', dst: 'p' }, { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'sum', src: 'p', field: 'c', global: 'total' }] }];
    const s = scenario([prog('st', 'tc', store), prog('bump', 'tc', bump), prog('sum', 'tc', sum)], {
      globals: [{ name: 'total', ctype: '__u64' }],
      schedule: [{ program: 'st', cpu: 0, repeat: 1 }, { program: 'bump', cpu: 0, repeat: 1 }, { program: 'bump', cpu: 1, repeat: 1 }, { program: 'sum', cpu: 0, repeat: 2 }],
    });
    const steps = predict(s, { version: '6.18.44', nrCpus: 2, divergences: [] }, spec).steps;
    // the sum accumulates into the global across the two repeats
    expect(steps.map((x) => x.globals.total)).toEqual(['0', '0', '0', '10', '20']);
    expect(steps.slice(-2).map((x) => x.iteration)).toEqual([0, 1]);
  });
  it('marks the globals that rest on unwritten per-CPU memory reading zero, and names the value divergence', () => {
    // CPU 1's copy is never written: the sum holds only if new per-CPU memory reads 0; field d was written
    const p = predict(seq('tc', 'array', onCpu(0)), { version: '6.12.117', nrCpus: 2, divergences: [] }, spec);
    expect(p.steps.map((s) => [s.program, s.zeroFilled])).toEqual([['seq_store', []], ['seq_update', []], ['seq_read', ['sum_field_c']]]);
    expect(p.divergences).toEqual([{ program: 'seq_read', step: null, divergenceId: 'percpu_obj_new_uncleared', hostUnsafe: false, splat: false, kind: 'value' }]);
    // one CPU: every copy the sum reads was written, nothing rests on zero-filling
    const one = predict(seq('tc', 'array', onCpu(0)), { version: '6.12.117', nrCpus: 1, divergences: [] }, spec);
    expect(one.steps.at(-1)?.zeroFilled).toEqual([]);
    expect(one.divergences).toEqual([]);
  });

  it('per-CPU maps have one slot per CPU: an object published on CPU 0 is not seen from CPU 1', () => {
    const sched: ScheduleStep[] = [{ program: 'seq_store', cpu: 0, repeat: 1 }, { program: 'seq_update', cpu: 1, repeat: 1 }, { program: 'seq_read', cpu: 0, repeat: 1 }];
    expect(last(seq('tc', 'percpu_array', sched), 2)?.globals).toEqual({ cpu0_field_d: '0', sum_field_c: '0' });
    expect(last(seq('tc', 'array', sched), 2)?.globals).toEqual({ cpu0_field_d: '2', sum_field_c: '1' });
  });
  it('a hash map element exists once looked up; xchg replaces the stored object with a fresh zeroed one', () => {
    const sched: ScheduleStep[] = [...onCpu(0).slice(0, 2), { program: 'seq_store', cpu: 0, repeat: 1 }, { program: 'seq_read', cpu: 0, repeat: 1 }];
    expect(last(seq('tc', 'hash', sched), 2)?.globals).toEqual({ cpu0_field_d: '0', sum_field_c: '0' });
  });
  it('u64 sums wrap, and the global keeps its C type', () => {
    const neg = (mode: ProgType, ctype: '__u64' | 'int' | '__u8'): Scenario => {
      const w: Op[] = [lookup, { op: 'load', slot: 'array', dst: 'p' }, { op: 'if', var: 'p', is: 'nonnull', then: [
        { op: 'per_cpu_ptr', src: 'p', cpu: 0, dst: 'a' }, { op: 'if', var: 'a', is: 'nonnull', then: [{ op: 'write', ptr: 'a', field: 'c', value: '-1' }] },
        { op: 'per_cpu_ptr', src: 'p', cpu: 1, dst: 'b' }, { op: 'if', var: 'b', is: 'nonnull', then: [{ op: 'write', ptr: 'b', field: 'c', value: '-1' }] },
        { op: 'sum', src: 'p', field: 'c', global: 'g' },
      ] }];
      return scenario([prog('st', mode, store), prog('w', mode, w)], { globals: [{ name: 'g', ctype }], schedule: [{ program: 'st', cpu: 0, repeat: 1 }, { program: 'w', cpu: 0, repeat: 1 }] });
    };
    expect(last(neg('tc', '__u64'), 2)?.globals.g).toBe('18446744073709551614');
    expect(last(neg('tc', 'int'), 2)?.globals.g).toBe('-2');
    expect(last(neg('tc', '__u8'), 2)?.globals.g).toBe('254');
    // one possible CPU: bpf_per_cpu_ptr(p, 1) is NULL, only CPU 0 counts
    expect(last(neg('tc', '__u64'), 1)?.globals.g).toBe('18446744073709551615');
  });
  it('reads through an untrusted pointer are not predicted; retval is null for fentry', () => {
    const deref: Op[] = [lookup, { op: 'load', slot: 'array', dst: 'p' }, retIfNull('p'), { op: 'read', ptr: 'p', field: 'c', global: 'out' }, { op: 'return', value: 3 }];
    const s = (mode: ProgType) => scenario([prog('st', mode, store), prog('rd', mode, deref)], { globals: [{ name: 'out', ctype: 'long' }], schedule: [{ program: 'st', cpu: 0, repeat: 1 }, { program: 'rd', cpu: 0, repeat: 1 }] });
    const sys = predict(s('syscall'), { version: '6.18.44', nrCpus: 2, divergences: [] }, spec);
    expect(sys.steps.at(-1)).toMatchObject({ retval: 3, globals: { out: null } });
    // tc: the direct deref is refused, so the step does not run
    expect(predict(s('tc'), { version: '6.18.44', nrCpus: 2, divergences: [] }, spec).steps.map((x) => x.program)).toEqual(['st']);
    expect(predict(s('fentry.s'), { version: '6.12.117', nrCpus: 2, divergences: [] }, spec).steps.at(-1)?.retval).toBeNull();
  });
});

describe('runtime prediction of grace-period steps', () => {
  const puc = loadScenarioFile(fileURLToPath(new URL('../../../specs/regressions/percpu_obj_new_uncleared.yaml', import.meta.url)));

  it('should run nothing for a grace period, count it in the step indexes, and still expect a new object to read 0', () => {
    const p = predict(puc, { version: '6.18.44', nrCpus: 2, divergences: [] }, spec);
    expect(p.steps.map((s) => [s.step, s.iteration, s.program, s.globals.puc_seen, s.zeroFilled])).toEqual([
      [0, 0, 'puc_dirty', '0', []],
      [2, 0, 'puc_dirty', '0', []],
      [4, 0, 'puc_fresh', '0', ['puc_seen']],
      [4, 1, 'puc_fresh', '0', ['puc_seen']],
    ]);
    expect(p.wellFormed).toBe(true);
    // the value divergence applies by its range (>=6.7)
    expect(p.divergences.map((d) => d.divergenceId)).toEqual(['percpu_obj_new_uncleared']);
  });

  it('should predict the same runs with the grace periods taken out (a correct kernel never hands out dropped bytes)', () => {
    const without: Scenario = { ...puc, schedule: puc.schedule.filter((s) => !('grace_period' in s)) };
    const values = (s: Scenario) => predict(s, { version: '6.18.44', nrCpus: 2, divergences: [] }, spec).steps.map(({ step: _, ...rest }) => rest);
    expect(values(without)).toEqual(values(puc));
  });
});
