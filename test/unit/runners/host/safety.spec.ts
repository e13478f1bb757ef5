import { describe, expect, it } from 'vitest';
import { hostExecutionGate, hostMapOpGate } from '../../../../runners/host/safety.ts';
import type { Op, Program, RunPlan, Scenario } from '../../../../types/index.ts';
import { batchOpsScenario, mapOpsScenario, percpuAllocArray, xchgObjNewIntoPercpu } from '../../../kernel/scenarios.ts';

const base = percpuAllocArray('s');
const names = (s: Scenario): string[] => s.programs.map((p) => p.name);
const planOf = (s: Scenario, over: Partial<RunPlan> = {}): RunPlan => ({
  scenarioId: s.id,
  expectedAccepted: names(s),
  wellFormed: true,
  execute: true,
  expectSplat: false,
  corruptsKernel: false,
  ...over,
});
const gate = (s: Scenario, over: Partial<RunPlan> = {}, accepted = new Set(names(s)), nrCpus = 2) =>
  hostExecutionGate(s, planOf(s, over), accepted, nrCpus);

/** The scenario with program `name`'s ops (and optionally progType) replaced. */
function withProgram(name: string, ops: readonly Op[], over: Partial<Program> = {}): Scenario {
  return { ...base, programs: base.programs.map((p) => (p.name === name ? { ...p, ...over, ops } : p)) };
}
const update = base.programs.find((p) => p.name === 's_update') as Program;
const reasonFor = (s: Scenario, program: string, nrCpus = 2): string => {
  const v = gate(s, {}, new Set(names(s)), nrCpus).find((g) => g.program === program);
  expect(v?.allowed).toBe(false);
  return v?.reason ?? '';
};

describe('hostExecutionGate', () => {
  it('should allow the upstream percpu_alloc_array programs', () => {
    expect(gate(base).map((g) => [g.program, g.allowed])).toEqual([
      ['s_store', true],
      ['s_update', true],
      ['s_read', true],
    ]);
  });

  it('should refuse a bpf_obj_new object kptr_xchg-ed into a __percpu_kptr field (ground truth 16)', () => {
    const s = xchgObjNewIntoPercpu('z');
    expect(reasonFor(s, 'z_xchg')).toMatch(/bpf_obj_new .*never run on the host/);
  });

  it('should refuse what the plan or the kernel does not vouch for', () => {
    expect(gate(base, { execute: false })[0]?.reason).toBe('execution not requested (verify only)');
    expect(gate(base, { wellFormed: false })[0]?.reason).toBe('the oracle does not consider the scenario well-formed');
    expect(gate(base, { expectedAccepted: ['s_store'] })[1]?.reason).toBe('the oracle does not expect the kernel to accept it');
    expect(gate(base, {}, new Set(['s_store']))[2]?.reason).toBe('the kernel did not accept it');
    expect(gate({ ...base, intent: { kind: 'break', rule: 'x' } })[0]?.reason).toBe('intent is break, not valid');
    expect(gate({ ...base, intent: { kind: 'mixed' } })[0]?.allowed).toBe(false);
  });

  it('should refuse a pointer used without a NULL check', () => {
    const ops = update.ops.filter((o) => !(o.op === 'if' && o.var === 'p'));
    expect(reasonFor(withProgram('s_update', ops), 's_update')).toContain('p is used without a NULL check');
    const noElemCheck = update.ops.filter((o) => !(o.op === 'if' && o.var === 'v'));
    expect(reasonFor(withProgram('s_update', noElemCheck), 's_update')).toContain('v is used without a NULL check');
  });

  it('should refuse an `if null` branch that does not return, then a use', () => {
    const ops = update.ops.map((o) => (o.op === 'if' && o.var === 'p' ? { ...o, then: [] } : o));
    expect(reasonFor(withProgram('s_update', ops), 's_update')).toContain('without a NULL check');
  });

  it('should refuse a CPU constant that is not below nr_cpus', () => {
    const ops = update.ops.map((o) => (o.op === 'per_cpu_ptr' ? { ...o, cpu: 2 } : o));
    expect(reasonFor(withProgram('s_update', ops), 's_update')).toContain('cpu 2 is not below nr_cpus 2');
    expect(gate(withProgram('s_update', ops), {}, new Set(names(base)), 4)[1]?.allowed).toBe(true);
  });

  it('should refuse a direct write or read through a per-CPU pointer', () => {
    const write: Op[] = [...update.ops.slice(0, 3), { op: 'write', ptr: 'p', field: 'c', value: '1' }];
    expect(reasonFor(withProgram('s_update', write), 's_update')).toContain('direct write through the per-CPU pointer p');
    const read: Op[] = [...update.ops.slice(0, 3), { op: 'read', ptr: 'p', field: 'c', global: 's_sum_field_c' }];
    expect(reasonFor(withProgram('s_update', read), 's_update')).toContain('direct read through the per-CPU pointer p');
  });

  it('should refuse a direct store into a kptr field', () => {
    const ops: Op[] = [{ op: 'lookup', slot: 's_array', dst: 'e' }, { op: 'store', slot: 's_array', src: null }];
    expect(reasonFor(withProgram('s_update', ops), 's_update')).toContain('direct store into a kptr field');
  });

  it('should refuse an xchg of an object whose struct is not the slot pointee', () => {
    const other = { name: 's_other_t', members: [{ kind: 'scalar' as const, name: 'c', ctype: 'long' as const, count: null }] };
    const store = base.programs[0] as Program;
    const s: Scenario = {
      ...base,
      structs: [...base.structs, other],
      programs: base.programs.map((p) =>
        p === store
          ? {
              ...p,
              vars: [...p.vars, { name: 'o', type: { kind: 'percpu', struct: 's_other_t' } }],
              ops: [
                { op: 'lookup', slot: 's_array', dst: 'e' },
                { op: 'new', dst: 'o', struct: 's_other_t', percpu: true },
                { op: 'if', var: 'o', is: 'null', then: [{ op: 'return', value: 0 }] },
                { op: 'xchg', slot: 's_array', src: 'o', dst: 'p' },
                { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'drop', var: 'p', percpu: true }] },
              ],
            }
          : p,
      ),
    };
    expect(reasonFor(s, 's_store')).toContain('o is not a per-CPU struct s_val_t object');
  });

  it('should refuse a use after drop and a double drop', () => {
    const store = base.programs[0] as Program;
    const useAfterDrop: Op[] = [
      { op: 'new', dst: 'p', struct: 's_val_t', percpu: true },
      { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
      { op: 'drop', var: 'p', percpu: true },
      { op: 'drop', var: 'p', percpu: true },
    ];
    expect(reasonFor(withProgram(store.name, useAfterDrop), store.name)).toContain('p is used after its reference was released');
  });

  it('should refuse a __kptr slot and a pointee with special fields', () => {
    expect(reasonFor({ ...base, slots: base.slots.map((s) => ({ ...s, tag: 'kptr' as const })) }, 's_store')).toContain('not __percpu_kptr');
    const special: Scenario = {
      ...base,
      structs: [{ name: 's_val_t', members: [{ kind: 'spin_lock', name: 'l' }] }],
    };
    expect(reasonFor(special, 's_store')).toContain('struct s_val_t has a spin_lock member l');
  });

  it('should refuse a kptr load outside bpf_rcu_read_lock in a sleepable program, and allow it inside', () => {
    expect(reasonFor(withProgram('s_update', update.ops, { progType: 'syscall' }), 's_update')).toContain('outside bpf_rcu_read_lock');
    const locked: Op[] = [...update.ops.slice(0, 1), { op: 'rcu_lock' }, ...update.ops.slice(1).map((o) => (o.op === 'if' ? { ...o, then: [{ op: 'rcu_unlock' } as Op, ...o.then] } : o)), { op: 'rcu_unlock' }];
    expect(gate(withProgram('s_update', locked, { progType: 'syscall' }))[1]).toMatchObject({ allowed: true });
  });

  it('should refuse a return inside bpf_rcu_read_lock and an unbalanced unlock', () => {
    const ret: Op[] = [{ op: 'rcu_lock' }, { op: 'return', value: 0 }];
    expect(reasonFor(withProgram('s_update', ret), 's_update')).toContain('return inside bpf_rcu_read_lock');
    expect(reasonFor(withProgram('s_update', [{ op: 'rcu_unlock' }]), 's_update')).toContain('without a lock');
    expect(reasonFor(withProgram('s_update', [{ op: 'rcu_lock' }]), 's_update')).toContain('ends inside bpf_rcu_read_lock');
  });

  it('should refuse a field that is not an in-bounds scalar member', () => {
    const ops = update.ops.map((o) => (o.op === 'write' ? { ...o, field: 'nope' } : o));
    expect(reasonFor(withProgram('s_update', ops), 's_update')).toContain('field nope is not a scalar member of struct s_val_t');
  });
});

describe('hostMapOpGate', () => {
  const ops = batchOpsScenario('b', 'percpu_hash');
  const mapGate = (s: Scenario, over: Partial<RunPlan> = {}) => hostMapOpGate(s, planOf(s, over), gate(s, over));

  it('should let the batch forms run like the single operations when the scenario is well-formed and its programs may run', () => {
    expect(mapGate(ops)).toBeNull();
    expect(mapGate(mapOpsScenario('m', 'hash'))).toBeNull();
  });

  it('should hold them back when the scenario is not well-formed, a program may not run, or a slot is not in a map', () => {
    expect(mapGate(ops, { wellFormed: false })).toBe('the oracle does not consider the scenario well-formed');
    expect(mapGate({ ...ops, intent: { kind: 'break', rule: 'refs.unreleased' } })).toBe('intent is break, not valid');
    expect(hostMapOpGate(ops, planOf(ops), gate(ops).map((g) => ({ ...g, allowed: false, reason: 'no' })))).toBe('program b_put of the schedule may not run here');
    const global = { ...ops, slots: ops.slots.map((x) => ({ ...x, home: { kind: 'global' as const, section: 'bss' as const } })) };
    expect(mapGate(global)).toBe('slot b_m is not kept in a map');
  });
});
