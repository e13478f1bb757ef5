import type { MapType, Op, ProgType, Program, Scenario, ScheduleStep } from '../../types/index.ts';

/**
 * Hand-written scenarios for the kernel and VM tests. `percpuAllocArray` is upstream percpu_alloc_array.c's
 * test_array_map_1..3 (store a new object, write c=1 d=2 into CPU 0's copy, read CPU 0's d and sum c over the CPUs):
 * cpu0_field_d=2 sum_field_c=1. Sleepable programs (syscall, fentry.s) hold bpf_rcu_read_lock from the kptr load on
 * and unlock before every return, so one shape is valid for every program type.
 */
export function percpuAllocArray(id: string, progType: ProgType = 'tc'): Scenario {
  const v = `${id}_val_t`;
  const slot = `${id}_array`;
  const sleepable = progType === 'fentry.s' || progType === 'syscall';
  const lock: Op[] = sleepable ? [{ op: 'rcu_lock' }] : [];
  const unlock: Op[] = sleepable ? [{ op: 'rcu_unlock' }] : [];
  const bail = (v: string): Op => ({ op: 'if', var: v, is: 'null', then: [...unlock, { op: 'return', value: 0 }] });
  const program = (name: string, ops: Op[]): Program => ({
    name: `${id}_${name}`,
    progType,
    license: 'GPL',
    vars: [
      { name: 'e', type: { kind: 'map_value', slot } },
      { name: 'p', type: { kind: 'percpu', struct: v } },
      { name: 'v', type: { kind: 'plain', struct: v } },
    ],
    ops: [{ op: 'lookup', slot, dst: 'e' }, ...ops],
  });
  // the slot's object and CPU 0's copy of it, under bpf_rcu_read_lock in a sleepable program
  const cpu0: Op[] = [...lock, { op: 'load', slot, dst: 'p' }, bail('p'), { op: 'per_cpu_ptr', src: 'p', cpu: 0, dst: 'v' }];
  return {
    id,
    description: `percpu_alloc_array test_array_map_1..3 as ${progType} programs`,
    origin: null,
    intent: { kind: 'valid' },
    structs: [
      {
        name: v,
        members: [
          { kind: 'scalar', name: 'b', ctype: 'long', count: null },
          { kind: 'scalar', name: 'c', ctype: 'long', count: null },
          { kind: 'scalar', name: 'd', ctype: 'long', count: null },
        ],
      },
    ],
    slots: [{ name: slot, home: { kind: 'map', mapType: 'array' }, pointee: v, tag: 'percpu_kptr' }],
    globals: [
      { name: `${id}_cpu0_field_d`, ctype: 'int' },
      { name: `${id}_sum_field_c`, ctype: 'int' },
    ],
    programs: [
      program('store', [
        { op: 'new', dst: 'p', struct: v, percpu: true },
        { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
        { op: 'xchg', slot, src: 'p', dst: 'p' },
        { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'drop', var: 'p', percpu: true }] },
      ]),
      program('update', [...cpu0, bail('v'), { op: 'write', ptr: 'v', field: 'c', value: '1' }, { op: 'write', ptr: 'v', field: 'd', value: '2' }, ...unlock]),
      program('read', [
        ...cpu0,
        { op: 'if', var: 'v', is: 'nonnull', then: [{ op: 'read', ptr: 'v', field: 'd', global: `${id}_cpu0_field_d` }] },
        { op: 'sum', src: 'p', field: 'c', global: `${id}_sum_field_c` },
        ...unlock,
      ]),
    ],
    schedule: ['store', 'update', 'read'].map((n) => ({ program: `${id}_${n}`, cpu: 0, repeat: 1 })),
  };
}

/** One tc program that allocates and never releases: the verifier's reference-leak rejection. */
export function leakNew(id: string): Scenario {
  const v = `${id}_val_t`;
  return {
    id,
    description: 'bpf_percpu_obj_new without xchg or drop',
    origin: null,
    intent: { kind: 'break', rule: 'refs.leak' },
    structs: [{ name: v, members: [{ kind: 'scalar', name: 'c', ctype: 'long', count: null }] }],
    slots: [],
    globals: [],
    programs: [
      {
        name: `${id}_leak`,
        progType: 'tc',
        license: 'GPL',
        vars: [{ name: 'p', type: { kind: 'percpu', struct: v } }],
        ops: [
          { op: 'new', dst: 'p', struct: v, percpu: true },
          { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
        ],
      },
    ],
    schedule: [{ program: `${id}_leak`, cpu: 0, repeat: 1 }],
  };
}

/**
 * Ground-truth case 16: a plain bpf_obj_new object kptr_xchg'd into a __percpu_kptr field. 6.18 accepts it, and
 * executing it corrupts the allocator (ENVIRONMENT.md): it must be verified on the host and never run there.
 * Marked `valid` and well-formed here on purpose, so only the gate's own structural walk stands in the way.
 */
export function xchgObjNewIntoPercpu(id: string): Scenario {
  const v = `${id}_val_t`;
  const slot = `${id}_array`;
  return {
    id,
    description: 'kptr_xchg of a bpf_obj_new object into a __percpu_kptr field (ground truth 16)',
    origin: null,
    intent: { kind: 'valid' },
    structs: [{ name: v, members: [{ kind: 'scalar', name: 'c', ctype: 'long', count: null }] }],
    slots: [{ name: slot, home: { kind: 'map', mapType: 'array' }, pointee: v, tag: 'percpu_kptr' }],
    globals: [],
    programs: [
      {
        name: `${id}_xchg`,
        progType: 'tc',
        license: 'GPL',
        vars: [
          { name: 'e', type: { kind: 'map_value', slot } },
          { name: 'q', type: { kind: 'plain', struct: v } },
          { name: 'old', type: { kind: 'percpu', struct: v } },
        ],
        ops: [
          { op: 'lookup', slot, dst: 'e' },
          { op: 'new', dst: 'q', struct: v, percpu: false },
          { op: 'if', var: 'q', is: 'null', then: [{ op: 'return', value: 0 }] },
          { op: 'xchg', slot, src: 'q', dst: 'old' },
          { op: 'if', var: 'old', is: 'nonnull', then: [{ op: 'drop', var: 'old', percpu: true }] },
        ],
      },
    ],
    schedule: [{ program: `${id}_xchg`, cpu: 0, repeat: 1 }],
  };
}

/**
 * Userspace map operations on a slot kept in a map of `mapType` (specs/ops/map): `put` stores a new per-CPU object
 * (then c=7 on CPU 0), `check` returns 2 when the slot holds an object and 1 when it is NULL (0: its lookup failed, a full
 * hash map). The schedule stores, updates from userspace (the object must be released: NULL afterwards), looks up
 * (zero where the kptr sits), deletes and re-adds (NULL again), and tries the flags and keys that fail.
 */
export function mapOpsScenario(id: string, mapType: MapType): Scenario {
  const t = `${id}_t`;
  const slot = `${id}_m`;
  const put: Program = {
    name: `${id}_put`,
    progType: 'tc',
    license: 'GPL',
    vars: [
      { name: 'e', type: { kind: 'map_value', slot } },
      { name: 'p', type: { kind: 'percpu', struct: t } },
      { name: 'o', type: { kind: 'percpu', struct: t } },
      { name: 'v', type: { kind: 'plain', struct: t } },
    ],
    ops: [
      { op: 'lookup', slot, dst: 'e' },
      { op: 'new', dst: 'p', struct: t, percpu: true },
      { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
      { op: 'xchg', slot, src: 'p', dst: 'o' },
      { op: 'if', var: 'o', is: 'nonnull', then: [{ op: 'drop', var: 'o', percpu: true }] },
      { op: 'per_cpu_ptr', src: 'p', cpu: 0, dst: 'v' },
      { op: 'if', var: 'v', is: 'nonnull', then: [{ op: 'write', ptr: 'v', field: 'c', value: '7' }] },
      { op: 'return', value: 3 },
    ],
  };
  const check: Program = {
    name: `${id}_check`,
    progType: 'tc',
    license: 'GPL',
    vars: [
      { name: 'e', type: { kind: 'map_value', slot } },
      { name: 'p', type: { kind: 'percpu', struct: t } },
    ],
    ops: [
      { op: 'lookup', slot, dst: 'e' },
      { op: 'load', slot, dst: 'p' },
      { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 1 }] },
      { op: 'return', value: 2 },
    ],
  };
  const run = (p: Program, cpu = 0): ScheduleStep => ({ program: p.name, cpu, repeat: 1 });
  return {
    id,
    description: `userspace map operations on a ${mapType} element holding a __percpu_kptr`,
    origin: null,
    intent: { kind: 'valid' },
    structs: [{ name: t, members: [{ kind: 'scalar', name: 'c', ctype: 'long', count: null }] }],
    slots: [{ name: slot, home: { kind: 'map', mapType }, pointee: t, tag: 'percpu_kptr' }],
    globals: [],
    programs: [put, check],
    schedule: [
      run(put),
      run(check),
      { mapOp: 'lookup', slot, key: 0 },
      { mapOp: 'update', slot, key: 0, flags: 'BPF_EXIST', sum: '5' },
      run(check),
      run(check, 1),
      { mapOp: 'lookup', slot, key: 0 },
      { mapOp: 'update', slot, key: 0, flags: 'BPF_NOEXIST', sum: '6' },
      { mapOp: 'update', slot, key: 1, flags: 'BPF_ANY', sum: '6' },
      run(put),
      { mapOp: 'delete', slot, key: 0 },
      { mapOp: 'delete', slot, key: 0 },
      { mapOp: 'lookup', slot, key: 0 },
      run(check),
      run(put, 1),
      { mapOp: 'lookup_and_delete', slot, key: 0 },
      { mapOp: 'update', slot, key: 0, flags: 'BPF_EXIST', sum: '8' },
      { mapOp: 'update', slot, key: 1, flags: 'BPF_NOEXIST', sum: '9' },
      run(check),
      { mapOp: 'lookup', slot, key: 1 },
      { mapOp: 'update', slot, key: 0, flags: 'BPF_ANY', sum: '-1' },
      run(check),
      { mapOp: 'lookup', slot, key: 0 },
    ],
  };
}

/**
 * The batch forms of the userspace map operations (specs/ops/map/*_batch.yaml) on a `mapType` element holding a
 * __percpu_kptr, between the runs of mapOpsScenario's programs: step 0 stores an object, and `check` returns 2 while
 * the element's field holds one, 1 when it is NULL.
 */
export function batchOpsScenario(id: string, mapType: MapType): Scenario {
  return withMapOpsPrograms(id, mapType, `userspace batch map operations on a ${mapType} element holding a __percpu_kptr`, ({ slot, put, check, run }) => [
    run(put),
    run(check),
    { mapOp: 'lookup_batch', slot, count: 2 },
    { mapOp: 'lookup_batch', slot, count: 1 },
    { mapOp: 'update_batch', slot, keys: [0], flags: 'BPF_EXIST', sum: '5' },
    run(check),
    { mapOp: 'update_batch', slot, keys: [0, 1], flags: 'BPF_ANY', sum: '5' },
    run(check),
    run(check, 1),
    { mapOp: 'lookup_batch', slot, count: 3 },
    run(put),
    { mapOp: 'delete_batch', slot, keys: [0, 1] },
    run(check),
    { mapOp: 'delete_batch', slot, keys: [] },
    { mapOp: 'lookup_and_delete_batch', slot, count: 0 },
    run(put, 1),
    { mapOp: 'lookup_and_delete_batch', slot, count: 2 },
    run(check),
    { mapOp: 'lookup_batch', slot, count: 1 },
    { mapOp: 'delete_batch', slot, keys: [0] },
    { mapOp: 'lookup_batch', slot, count: 2 },
    { mapOp: 'update_batch', slot, keys: [1, 0], flags: 'BPF_ANY', sum: '-1' },
    { mapOp: 'lookup_batch', slot, count: 1 },
    run(check),
  ]);
}

/**
 * LRU eviction under pressure (specs/ops/map/update.yaml) on a `mapType` (lru_hash or lru_percpu_hash) map of
 * max_entries 1 whose element holds a __percpu_kptr, with mapOpsScenario's programs: `put` stores an object (3),
 * `check` returns 2 while key 0's field holds one and 1 when it is NULL (its lookup inserts a missing key 0, which
 * evicts key 1). Updates of key 1 evict key 0 and its object; updates of the present key 0 evict it too, except
 * BPF_EXIST on the per-CPU LRU map, which takes no node.
 */
export function lruEvictionScenario(id: string, mapType: MapType): Scenario {
  return withMapOpsPrograms(id, mapType, `LRU eviction of a ${mapType} element holding a __percpu_kptr`, ({ slot, put, check, run }) => [
    run(put),
    run(check),
    { mapOp: 'update', slot, key: 1, flags: 'BPF_ANY', sum: '4' },
    { mapOp: 'lookup', slot, key: 0 },
    { mapOp: 'lookup', slot, key: 1 },
    run(check, 1),
    run(put, 1),
    { mapOp: 'update', slot, key: 0, flags: 'BPF_NOEXIST', sum: '5' },
    run(check),
    run(put),
    { mapOp: 'update', slot, key: 0, flags: 'BPF_EXIST', sum: '6' },
    { mapOp: 'lookup', slot, key: 0 },
    run(put, 1),
    { mapOp: 'update', slot, key: 1, flags: 'BPF_EXIST', sum: '7' },
    run(check, 1),
    { mapOp: 'update_batch', slot, keys: [1, 0], flags: 'BPF_ANY', sum: '8' },
    run(check),
    { mapOp: 'lookup_batch', slot, count: 2 },
    { mapOp: 'update', slot, key: 1, flags: 'BPF_NOEXIST', sum: '9' },
    run(check, 1),
  ]);
}

/** mapOpsScenario's programs and slot with another schedule, built from them */
function withMapOpsPrograms(
  id: string,
  mapType: MapType,
  description: string,
  schedule: (x: { slot: string; put: Program; check: Program; run: (p: Program, cpu?: number) => ScheduleStep }) => ScheduleStep[],
): Scenario {
  const s = mapOpsScenario(id, mapType);
  const [put, check] = s.programs as [Program, Program];
  const run = (p: Program, cpu = 0): ScheduleStep => ({ program: p.name, cpu, repeat: 1 });
  return { ...s, description, schedule: schedule({ slot: `${id}_m`, put, check, run }) };
}

/**
 * BPF_F_LOCK on the single lookup_and_delete, on corpus case hlu's slots and programs: key 0 of the hash with a spin
 * lock (the copy, then the element gone and its object released: the check finds NULL), of the array with one
 * (ENOTSUPP: arrays cannot delete) and of the hash without one (EINVAL, before the map type is looked at).
 */
export function lockedLookupAndDelete(hlu: Scenario): Scenario {
  return {
    ...hlu,
    id: 'hld',
    schedule: [
      { program: 'hluh_put', cpu: 0, repeat: 1 },
      { mapOp: 'lookup_and_delete', slot: 'hlu_h', key: 0, lock: true },
      { program: 'hluh_check', cpu: 0, repeat: 1 },
      { program: 'hlua_put', cpu: 0, repeat: 1 },
      { mapOp: 'lookup_and_delete', slot: 'hlu_a', key: 0, lock: true },
      { mapOp: 'update', slot: 'hlu_p', key: 0, flags: 'BPF_ANY', sum: '3' },
      { mapOp: 'lookup_and_delete', slot: 'hlu_p', key: 0, lock: true },
      { mapOp: 'lookup_and_delete', slot: 'hlu_p', key: 0 },
    ],
  };
}
