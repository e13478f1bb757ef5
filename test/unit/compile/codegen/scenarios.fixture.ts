import type { KptrHome, Op, ProgType, Program, Scenario, StructType } from '../../../../types/index.ts';

const HOMES: readonly KptrHome[] = [
  { kind: 'map', mapType: 'array' },
  { kind: 'map', mapType: 'hash' },
  { kind: 'map', mapType: 'lru_hash' },
  { kind: 'map', mapType: 'percpu_array' },
  { kind: 'map', mapType: 'percpu_hash' },
  { kind: 'global', section: 'bss' },
  { kind: 'global', section: 'data' },
];
const PROG_TYPES: readonly ProgType[] = ['tc', 'syscall', 'fentry', 'fentry.s'];

/** Structs with every member kind: nested struct (array), scalar arrays, pointer, spin_lock, kptr. */
function structsOf(id: string): StructType[] {
  return [
    {
      name: `${id}_val`,
      members: [
        { kind: 'scalar', name: 'c', ctype: 'long', count: null },
        { kind: 'scalar', name: 'small', ctype: 'char', count: null },
        { kind: 'scalar', name: 'arr', ctype: '__u32', count: 4 },
        { kind: 'struct', name: 'inner', struct: `${id}_inner`, count: null },
        { kind: 'struct', name: 'inners', struct: `${id}_inner`, count: 2 },
      ],
    },
    { name: `${id}_inner`, members: [{ kind: 'scalar', name: 'x', ctype: '__u64', count: null }] },
    {
      name: `${id}_special`,
      members: [
        { kind: 'scalar', name: 'a', ctype: 'int', count: null },
        { kind: 'pointer', name: 'ptr' },
        { kind: 'spin_lock', name: 'lock' },
        { kind: 'kptr', name: 'k', pointee: `${id}_val` },
      ],
    },
  ];
}

/**
 * One scenario using every op form and every home, with deliberately mismatched pointer types
 * (loads and stores across struct types) that must still compile without a warning.
 */
export function allOpsScenario(id: string): Scenario {
  const val = `${id}_val`;
  const slots = HOMES.map((home, i) => ({ name: `${id}_s${i}`, home, pointee: val, tag: 'percpu_kptr' as const }));
  const kptrSlot = { name: `${id}_k`, home: { kind: 'map', mapType: 'array' } as const, pointee: `${id}_special`, tag: 'kptr' as const };
  const perSlot: Op[] = slots.flatMap((s) => [
    { op: 'lookup', slot: s.name, dst: `e${s.name.slice(id.length + 2)}` },
    { op: 'xchg', slot: s.name, src: 'p', dst: 'p' },
    { op: 'xchg', slot: s.name, src: null, dst: null },
    { op: 'load', slot: s.name, dst: 'q' },
    { op: 'store', slot: s.name, src: 'q' },
    { op: 'store', slot: s.name, src: null },
  ]);
  const program = (name: string, progType: ProgType, ops: readonly Op[]): Program => ({
    name: `${id}_${name}`,
    progType,
    license: 'GPL',
    vars: [
      { name: 'p', type: { kind: 'percpu', struct: val } },
      { name: 'q', type: { kind: 'percpu', struct: val } },
      { name: 'v', type: { kind: 'plain', struct: val } },
      { name: 'o', type: { kind: 'plain', struct: `${id}_special` } },
      { name: 'ek', type: { kind: 'map_value', slot: kptrSlot.name } },
      ...slots.map((s, i) => ({ name: `e${i}`, type: { kind: 'map_value' as const, slot: s.name } })),
    ],
    ops,
  });
  return {
    id,
    description: `every op form */ with a comment terminator in the description`,
    origin: { seed: 42, path: '0:1', index: 7 },
    intent: { kind: 'mixed' },
    structs: structsOf(id),
    slots: [...slots, kptrSlot],
    globals: [
      { name: `${id}_g64`, ctype: '__u64' },
      { name: `${id}_g8`, ctype: '__s8' },
    ],
    programs: [
      program('kptrs', 'tc', [
        { op: 'new', dst: 'p', struct: val, percpu: true },
        { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
        ...perSlot,
        { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'drop', var: 'p', percpu: true }] },
        // a plain object into a percpu variable, and a struct of another type: casts, no warnings
        { op: 'new', dst: 'q', struct: `${id}_special`, percpu: false },
        { op: 'lookup', slot: kptrSlot.name, dst: 'ek' },
        { op: 'xchg', slot: kptrSlot.name, src: 'q', dst: 'o' },
        { op: 'load', slot: kptrSlot.name, dst: 'v' },
        { op: 'store', slot: kptrSlot.name, src: 'p' },
        { op: 'if', var: 'o', is: 'nonnull', then: [{ op: 'drop', var: 'o', percpu: false }] },
      ]),
      program('access', 'syscall', [
        { op: 'rcu_lock' },
        { op: 'lookup', slot: slots[0]!.name, dst: 'e0' },
        { op: 'load', slot: slots[0]!.name, dst: 'p' },
        {
          op: 'if',
          var: 'p',
          is: 'nonnull',
          then: [
            { op: 'per_cpu_ptr', src: 'p', cpu: 1, dst: 'v' },
            {
              op: 'if',
              var: 'v',
              is: 'nonnull',
              then: [
                { op: 'write', ptr: 'v', field: 'c', value: '-9223372036854775808' },
                { op: 'write', ptr: 'v', field: 'small', value: '300' },
                { op: 'write', ptr: 'v', field: 'arr[3]', value: '4294967295' },
                { op: 'write', ptr: 'v', field: 'inner.x', value: '18446744073709551615' },
                { op: 'write', ptr: 'v', field: 'inners[1].x', value: '-1' },
                { op: 'read', ptr: 'v', field: 'inners[1].x', global: `${id}_g8` },
              ],
            },
            { op: 'this_cpu_ptr', src: 'p', dst: 'v' },
            { op: 'write', ptr: 'v', field: 'c', value: '3' },
            { op: 'sum', src: 'p', field: 'c', global: `${id}_g64` },
            { op: 'sum', src: 'p', field: 'inner.x', global: `${id}_g64` },
            { op: 'write', ptr: 'e0', field: 'sum', value: '5' },
            { op: 'read', ptr: 'e0', field: 'sum', global: `${id}_g64` },
          ],
        },
        { op: 'rcu_unlock' },
        { op: 'return', value: 1 },
      ]),
      program('fentry', 'fentry', [{ op: 'return', value: 0 }]),
      program('sleepable', 'fentry.s', [{ op: 'rcu_lock' }, { op: 'rcu_unlock' }]),
    ],
    schedule: [],
  };
}

/**
 * A deterministic, varied scenario for batch tests: home, tag, program type and op pattern
 * cycle with `i` (a hand-made stand-in for the generators, which are not this stage's input).
 */
export function handScenario(i: number): Scenario {
  const id = `h${i}`;
  const val = `${id}_val`;
  const home = HOMES[i % HOMES.length]!;
  const progType = PROG_TYPES[i % PROG_TYPES.length]!;
  const slot = { name: `${id}_slot`, home, pointee: val, tag: i % 11 === 5 ? ('kptr' as const) : ('percpu_kptr' as const) };
  const store: Op[] = [
    { op: 'lookup', slot: slot.name, dst: 'e' },
    { op: 'new', dst: 'p', struct: val, percpu: i % 13 !== 3 },
    { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
    { op: 'xchg', slot: slot.name, src: 'p', dst: 'p' },
    { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'drop', var: 'p', percpu: true }] },
  ];
  const update: Op[] = [
    ...(progType === 'syscall' || progType === 'fentry.s' ? [{ op: 'rcu_lock' } as const] : []),
    { op: 'lookup', slot: slot.name, dst: 'e' },
    { op: 'load', slot: slot.name, dst: 'p' },
    {
      op: 'if',
      var: 'p',
      is: 'nonnull',
      then: [
        { op: 'per_cpu_ptr', src: 'p', cpu: i % 3, dst: 'v' },
        { op: 'if', var: 'v', is: 'nonnull', then: [{ op: 'write', ptr: 'v', field: `arr[${i % 4}]`, value: String(i) }] },
        { op: 'sum', src: 'p', field: 'c', global: `${id}_sum` },
      ],
    },
    ...(progType === 'syscall' || progType === 'fentry.s' ? [{ op: 'rcu_unlock' } as const] : []),
  ];
  const vars = [
    { name: 'p', type: { kind: 'percpu' as const, struct: val } },
    { name: 'v', type: { kind: 'plain' as const, struct: val } },
    { name: 'e', type: { kind: 'map_value' as const, slot: slot.name } },
  ];
  return {
    id,
    description: `hand-made scenario ${i}`,
    origin: null,
    // built to compile, not to pass the verifier (nested structs, lookups inside RCU sections)
    intent: { kind: 'mixed' },
    structs: structsOf(id).slice(0, i % 2 === 0 ? 2 : 3),
    slots: [slot],
    globals: [{ name: `${id}_sum`, ctype: i % 2 === 0 ? '__u64' : 'int' }],
    programs: [
      { name: `${id}_store`, progType, license: 'GPL', vars, ops: store },
      { name: `${id}_update`, progType, license: 'GPL', vars, ops: update },
    ],
    schedule: [
      { program: `${id}_store`, cpu: 0, repeat: 1 },
      { program: `${id}_update`, cpu: 0, repeat: 2 },
    ],
  };
}
