import type { Op, Program, Scenario } from '../../../../types/index.ts';

/** test_array_map_1 and _4 hold the slot's object (or none) and the map value. */
const SLOT_VARS: Program['vars'] = [
  { name: 'p', type: { kind: 'percpu', struct: 'val_t' } },
  { name: 'e', type: { kind: 'map_value', slot: 'array' } },
];

/** test_array_map_2 and _3 both start by taking CPU 0's copy of the stored object. */
const CPU0_VARS: Program['vars'] = [
  { name: 'p', type: { kind: 'percpu', struct: 'val_t' } },
  { name: 'v', type: { kind: 'plain', struct: 'val_t' } },
  { name: 'e', type: { kind: 'map_value', slot: 'array' } },
];
const CPU0_OPS: Op[] = [
  { op: 'lookup', slot: 'array', dst: 'e' },
  { op: 'load', slot: 'array', dst: 'p' },
  { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
  { op: 'per_cpu_ptr', src: 'p', cpu: 0, dst: 'v' },
];

/**
 * Kernel selftest progs/percpu_alloc_array.c, programs 1-4, as tc programs with upstream names.
 * test_array_map_3 reads cpu 0's d outside the loop (upstream does it inside with `if (i == 0)`).
 * Running 1, 2, 3 in order gives cpu0_field_d=2 sum_field_c=1.
 */
export const percpuAllocArray: Scenario = {
  id: 'percpu_alloc_array',
  description: 'selftests/bpf progs/percpu_alloc_array.c programs 1-4 as tc',
  origin: null,
  intent: { kind: 'valid' },
  structs: [
    {
      name: 'val_t',
      members: [
        { kind: 'scalar', name: 'b', ctype: 'long', count: null },
        { kind: 'scalar', name: 'c', ctype: 'long', count: null },
        { kind: 'scalar', name: 'd', ctype: 'long', count: null },
      ],
    },
  ],
  slots: [{ name: 'array', home: { kind: 'map', mapType: 'array' }, pointee: 'val_t', tag: 'percpu_kptr' }],
  globals: [
    { name: 'cpu0_field_d', ctype: 'int' },
    { name: 'sum_field_c', ctype: 'int' },
  ],
  programs: [
    {
      name: 'test_array_map_1',
      progType: 'tc',
      license: 'GPL',
      vars: SLOT_VARS,
      ops: [
        { op: 'lookup', slot: 'array', dst: 'e' },
        { op: 'new', dst: 'p', struct: 'val_t', percpu: true },
        { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
        { op: 'xchg', slot: 'array', src: 'p', dst: 'p' },
        { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'drop', var: 'p', percpu: true }] },
      ],
    },
    {
      name: 'test_array_map_2',
      progType: 'tc',
      license: 'GPL',
      vars: CPU0_VARS,
      ops: [
        ...CPU0_OPS,
        { op: 'if', var: 'v', is: 'null', then: [{ op: 'return', value: 0 }] },
        { op: 'write', ptr: 'v', field: 'c', value: '1' },
        { op: 'write', ptr: 'v', field: 'd', value: '2' },
      ],
    },
    {
      name: 'test_array_map_3',
      progType: 'tc',
      license: 'GPL',
      vars: CPU0_VARS,
      ops: [
        ...CPU0_OPS,
        { op: 'if', var: 'v', is: 'nonnull', then: [{ op: 'read', ptr: 'v', field: 'd', global: 'cpu0_field_d' }] },
        { op: 'sum', src: 'p', field: 'c', global: 'sum_field_c' },
      ],
    },
    {
      name: 'test_array_map_4',
      progType: 'tc',
      license: 'GPL',
      vars: SLOT_VARS,
      ops: [
        { op: 'lookup', slot: 'array', dst: 'e' },
        { op: 'xchg', slot: 'array', src: null, dst: 'p' },
        { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'drop', var: 'p', percpu: true }] },
      ],
    },
  ],
  schedule: [
    { program: 'test_array_map_1', cpu: 0, repeat: 1 },
    { program: 'test_array_map_2', cpu: 0, repeat: 1 },
    { program: 'test_array_map_3', cpu: 0, repeat: 1 },
    { program: 'test_array_map_4', cpu: 0, repeat: 1 },
  ],
};
