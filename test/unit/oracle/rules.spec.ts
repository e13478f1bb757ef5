import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../../specs/load.ts';
import { predict } from '../../../oracle/predict.ts';
import type { KernelTarget, Op, ProgType, Scenario } from '../../../types/index.ts';
import { ARRAY_SLOT, prog, scenario, VAL_T } from './fixtures/build.ts';

const spec = loadSpec();
const K618: KernelTarget = { version: '6.18.44', nrCpus: 2, divergences: [] };

const lookup: Op = { op: 'lookup', slot: 'array', dst: 'e' };
const newP: Op = { op: 'new', dst: 'p', struct: 'val_t', percpu: true };
const retIfNull = (v: string): Op => ({ op: 'if', var: v, is: 'null', then: [{ op: 'return', value: 0 }] });
const dropIf = (v: string): Op => ({ op: 'if', var: v, is: 'nonnull', then: [{ op: 'drop', var: v, percpu: true }] });
const publish: Op[] = [lookup, newP, retIfNull('p'), { op: 'xchg', slot: 'array', src: 'p', dst: 'old' }, dropIf('old')];

function first(s: Scenario, kernel: KernelTarget = K618) {
  const p = predict(s, kernel, spec);
  const pr = p.programs[0];
  return { p, pr, rule: pr?.verdict === 'rejected' ? pr.expected.ruleId : 'accepted', lines: pr?.verdict === 'rejected' ? pr.expected.lines : [] };
}
const single = (ops: Op[], mode: ProgType = 'tc', extra: Partial<Scenario> = {}) => scenario([prog('t', mode, ops)], { globals: [{ name: 'out', ctype: 'long' }], ...extra });
const sized = (name: string, bytes: number) => ({ name, members: [{ kind: 'scalar', name: 'b', ctype: 'char', count: bytes } as const] });

describe('percpu_obj_new checks (B5 → B6 → B7)', () => {
  const newOf = (struct: string): Op[] => [{ op: 'new', dst: 'p', struct, percpu: true }, retIfNull('p'), { op: 'drop', var: 'p', percpu: true }];
  it('512 bytes is accepted, 513 is refused with its size', () => {
    expect(first(single(newOf('s'), 'tc', { structs: [VAL_T, sized('s', 512)] })).rule).toBe('accepted');
    const r = first(single(newOf('s'), 'tc', { structs: [VAL_T, sized('s', 513)] }));
    expect(r.rule).toBe('percpu_obj_new.size_limit');
    expect(r.lines).toEqual(['bpf_percpu_obj_new type size (513) is greater than 512']);
  });
  it('size is checked before scalars: a 600-byte struct with a pointer reports its size', () => {
    const s = { name: 's', members: [{ kind: 'scalar', name: 'b', ctype: 'char', count: 600 } as const, { kind: 'pointer', name: 'q' } as const] };
    expect(first(single(newOf('s'), 'tc', { structs: [VAL_T, s] })).lines).toEqual(['bpf_percpu_obj_new type size (608) is greater than 512']);
  });
  it('a pointer in a nested struct is not a struct of scalars', () => {
    const inner = { name: 'inner', members: [{ kind: 'pointer', name: 'q' } as const] };
    const outer = { name: 'outer', members: [{ kind: 'struct', name: 'in', struct: 'inner', count: null } as const] };
    expect(first(single(newOf('outer'), 'tc', { structs: [VAL_T, inner, outer] })).rule).toBe('percpu_obj_new.not_scalars');
  });
  it('a nested spin lock is refused (correct kernel) and reported as the known divergence every kernel shows', () => {
    const inner = { name: 'inner_lock', members: [{ kind: 'spin_lock', name: 'l' } as const] };
    const outer = { name: 'val_nested', members: [{ kind: 'scalar', name: 'a', ctype: 'long', count: null } as const, { kind: 'struct', name: 'in', struct: 'inner_lock', count: null } as const] };
    for (const version of ['6.12.117', '6.18.44', '7.3.4']) {
      const r = first(single(newOf('val_nested'), 'tc', { structs: [VAL_T, inner, outer] }), { version, nrCpus: 2, divergences: [] });
      expect(r.rule).toBe('percpu_obj_new.nested_special_field');
      expect(r.p.divergences).toEqual([{ program: 't', step: null, divergenceId: 'nested_special_field_accepted', hostUnsafe: false, splat: false, kind: 'accepts_invalid' }]);
    }
  });
  it('the size limit does not exist before 6.8', () => {
    expect(first(single(newOf('s'), 'tc', { structs: [VAL_T, sized('s', 600)] }), { version: '6.7.0', nrCpus: 2, divergences: [] }).rule).toBe('accepted');
  });
});

describe('drop', () => {
  it('unchecked is maybe_null, checked is accepted', () => {
    expect(first(single([newP, { op: 'drop', var: 'p', percpu: true }])).rule).toBe('percpu_obj_drop.maybe_null');
    expect(first(single([newP, retIfNull('p'), { op: 'drop', var: 'p', percpu: true }])).rule).toBe('accepted');
  });
  it('a copy whose reference was consumed by xchg outside RCU is dead', () => {
    const ops: Op[] = [lookup, newP, retIfNull('p'), { op: 'xchg', slot: 'array', src: 'p', dst: 'old' }, dropIf('old'), { op: 'drop', var: 'p', percpu: true }];
    expect(first(single(ops, 'syscall')).rule).toBe('percpu_obj_drop.unreferenced');
  });
});

describe('xchg', () => {
  it('a per-CPU object into a plain __kptr field is a type mismatch that prints no struct (the flag check fails first)', () => {
    const r = first(single(publish, 'tc', { slots: [{ ...ARRAY_SLOT, tag: 'kptr' }] }));
    // measured on 6.18.44: map_kptr_match_type looks the name up only after perm_flags passed
    expect(r.lines).toEqual(['invalid kptr access, R2 type=percpu_ptr_ expected=ptr_val_t']);
  });
  it('a non-owning RCU pointer is a bad source', () => {
    const ops: Op[] = [lookup, { op: 'load', slot: 'array', dst: 'p' }, retIfNull('p'), { op: 'xchg', slot: 'array', src: 'p', dst: 'old' }, dropIf('old')];
    expect(first(single(ops)).lines).toEqual(['R2 type=percpu_rcu_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_']);
  });
  it('an unchecked source is accepted but not well-formed', () => {
    const ops: Op[] = [lookup, newP, { op: 'xchg', slot: 'array', src: 'p', dst: 'old' }, dropIf('old')];
    const r = first(single(ops));
    expect(r.rule).toBe('accepted');
    expect(r.p.wellFormed).toBe(false);
  });
  it('a discarded result leaks the old object', () => {
    expect(first(single([lookup, newP, retIfNull('p'), { op: 'xchg', slot: 'array', src: 'p', dst: null }])).rule).toBe('ref.leak');
  });
  it('a plain object into a __percpu_kptr field: rejected everywhere, a host-unsafe divergence only on 6.18', () => {
    const ops: Op[] = [lookup, { op: 'new', dst: 'q', struct: 'val_t', percpu: false }, retIfNull('q'), { op: 'xchg', slot: 'array', src: 'q', dst: 'old' }, dropIf('old')];
    const on618 = first(single(ops));
    expect(on618.rule).toBe('kptr_xchg.plain_into_percpu');
    expect(on618.p.divergences).toEqual([{ program: 't', step: null, divergenceId: 'plain_obj_into_percpu', hostUnsafe: true, splat: true, kind: 'accepts_invalid', taintsKernel: true }]);
    expect(first(single(ops), { version: '7.3.4', nrCpus: 2, divergences: [] }).p.divergences).toEqual([]);
  });
});

describe('per_cpu_ptr and RCU', () => {
  const afterPublish = (mode: ProgType, lock: boolean): Scenario => single([
    lookup, newP, retIfNull('p'), ...(lock ? [{ op: 'rcu_lock' } as Op] : []),
    { op: 'xchg', slot: 'array', src: 'p', dst: 'old' }, dropIf('old'),
    { op: 'this_cpu_ptr', src: 'p', dst: 'v' }, { op: 'write', ptr: 'v', field: 'c', value: '1' },
    ...(lock ? [{ op: 'rcu_unlock' } as Op] : []),
  ], mode);
  it('the published source stays usable in a non-sleepable program, is dead in a sleepable one without the lock', () => {
    expect(first(afterPublish('tc', false)).rule).toBe('accepted');
    expect(first(afterPublish('syscall', false)).lines).toEqual(['R1 type=scalar expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_']);
    expect(first(afterPublish('syscall', true)).rule).toBe('accepted');
    expect(first(afterPublish('fentry.s', true)).rule).toBe('accepted');
  });
  it('after the outermost unlock an RCU pointer is untrusted', () => {
    const ops: Op[] = [lookup, { op: 'rcu_lock' }, { op: 'load', slot: 'array', dst: 'p' }, { op: 'rcu_unlock' }, { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'this_cpu_ptr', src: 'p', dst: 'v' }] }];
    expect(first(single(ops)).lines).toEqual(['R1 type=percpu_untrusted_ptr_ expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_']);
  });
  it('an unchecked bpf_per_cpu_ptr result may not be dereferenced; a CPU constant >= nr_cpus is not well-formed', () => {
    const base: Op[] = [lookup, { op: 'load', slot: 'array', dst: 'p' }, retIfNull('p'), { op: 'per_cpu_ptr', src: 'p', cpu: 3, dst: 'v' }];
    const bad = first(single([...base, { op: 'write', ptr: 'v', field: 'c', value: '1' }]));
    expect(bad.rule).toBe('per_cpu_ptr.unchecked_result');
    expect(bad.lines).toEqual(["R{{\\d+}} invalid mem access 'rcu_ptr_or_null_'"]);
    const ok = first(single([...base, { op: 'if', var: 'v', is: 'nonnull', then: [{ op: 'write', ptr: 'v', field: 'c', value: '1' }] }]));
    expect(ok.rule).toBe('accepted');
    expect(ok.p.wellFormed).toBe(false);
    expect(first(single([...base.slice(0, 3), { op: 'per_cpu_ptr', src: 'p', cpu: 1, dst: 'v' }, { op: 'if', var: 'v', is: 'nonnull', then: [{ op: 'write', ptr: 'v', field: 'c', value: '1' }] }])).p.wellFormed).toBe(true);
  });
  it('nested locks: refused on 6.18, allowed on 7.3', () => {
    const ops: Op[] = [{ op: 'rcu_lock' }, { op: 'rcu_lock' }, { op: 'rcu_unlock' }, { op: 'rcu_unlock' }];
    expect(first(single(ops)).rule).toBe('rcu.nested_lock');
    expect(first(single(ops), { version: '7.3.4', nrCpus: 2, divergences: [] }).rule).toBe('accepted');
  });
  it('exit with both a leak and the lock: 6.12 reports the lock, 6.18 the leak', () => {
    const ops: Op[] = [{ op: 'rcu_lock' }, newP, retIfNull('p')];
    expect(first(single(ops), { version: '6.12.117', nrCpus: 2, divergences: [] }).rule).toBe('rcu.exit_locked');
    expect(first(single(ops)).rule).toBe('ref.leak');
  });
});

describe('deref and store', () => {
  it('a write through a dead pointer is a scalar access; a NULL store to the field is refused', () => {
    expect(first(single([newP, retIfNull('p'), { op: 'drop', var: 'p', percpu: true }, { op: 'read', ptr: 'p', field: 'd', global: 'out' }])).rule).toBe('mem.scalar_deref');
    expect(first(single([lookup, { op: 'store', slot: 'array', src: null }])).rule).toBe('kptr.direct_store');
  });
  it('G1 prints the field offset of nested members', () => {
    const inner = { name: 'pt', members: [{ kind: 'scalar', name: 'x', ctype: 'int', count: null } as const, { kind: 'scalar', name: 'y', ctype: 'char', count: null } as const] };
    const outer = { name: 'val_t', members: [{ kind: 'scalar', name: 'a', ctype: 'char', count: null } as const, { kind: 'struct', name: 'pts', struct: 'pt', count: 3 } as const] };
    const ops: Op[] = [lookup, { op: 'load', slot: 'array', dst: 'p' }, retIfNull('p'), { op: 'write', ptr: 'p', field: 'pts[2].y', value: '1' }];
    // pt is 8 bytes (int + char, aligned 4); pts starts at 4; pts[2].y at 4 + 16 + 4
    expect(first(single(ops, 'tc', { structs: [inner, outer] })).lines).toEqual(['R{{\\d+}} is ptr_val_t access percpu memory: off=24']);
  });
});

describe('program-level checks and path order', () => {
  it('non-GPL programs fail at the first kfunc; 6.1 lacks the kfuncs (libbpf names the first one by name)', () => {
    const s = scenario([prog('t', 'tc', publish, 'Proprietary')]);
    expect(first(s).rule).toBe('kfunc.non_gpl');
    const on61 = first(s, { version: '6.1.0', nrCpus: 2, divergences: [] });
    expect(on61.pr).toMatchObject({ verdict: 'rejected', expected: { stage: 'libbpf', lines: ["extern (func ksym) 'bpf_percpu_obj_drop_impl': not found in kernel or module BTFs"] } });
  });
  it('the non-NULL path is explored first; the other path\'s error is an alternative', () => {
    const ops: Op[] = [lookup, newP, { op: 'if', var: 'p', is: 'null', then: [{ op: 'store', slot: 'array', src: null }] }];
    const r = first(single(ops));
    expect(r.rule).toBe('ref.leak');
    expect(r.pr?.verdict === 'rejected' ? r.pr.alternatives.map((a) => a.ruleId) : []).toEqual(['kptr.direct_store']);
    expect(r.p.rulesHit).toEqual(['kptr.direct_store', 'ref.leak']);
  });
  it('a hash-map lookup that fails returns while a reference is live', () => {
    const ops: Op[] = [newP, retIfNull('p'), { op: 'lookup', slot: 'array', dst: 'e' }, { op: 'xchg', slot: 'array', src: 'p', dst: 'old' }, dropIf('old')];
    expect(first(single(ops)).rule).toBe('accepted');
    expect(first(single(ops, 'tc', { slots: [{ ...ARRAY_SLOT, home: { kind: 'map', mapType: 'hash' } }] })).rule).toBe('ref.leak');
  });
  it('well-formed needs a valid intent and every program accepted', () => {
    expect(first(single(publish)).p.wellFormed).toBe(true);
    expect(first(single(publish, 'tc', { intent: { kind: 'break', rule: 'ref.leak' } })).p.wellFormed).toBe(false);
  });
});
