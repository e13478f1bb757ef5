import type { LocalStorageKind, Op, ProgType, Scenario, VarDecl } from '../../types/index.ts';

/**
 * Local-storage scenarios shared by the unit, kernel and VM tests, after upstream's
 * percpu_alloc_cgrp_local_storage.c: a slot in the storage of the task (or cgroup) the programs run in.
 */

/**
 * One program reads the element's `sum` into a global, sets it to 7 and puts a fresh per-CPU object in the slot
 * (dropping what it held); it runs twice, the owner exits, and it runs again. A fresh owner's element starts with
 * sum 0 and a NULL field (specs/ops/lifetime/owner_exit.yaml), so the global reads 0, 7, then 0 again.
 */
export function storageCounter(id: string, kind: LocalStorageKind, progType: ProgType): Scenario {
  const slot = `${id}_m`, t = `${id}_t`, g = `${id}_g`, prog = `${id}_p`;
  const vars: VarDecl[] = [
    { name: 'e', type: { kind: 'map_value', slot } },
    { name: 'p', type: { kind: 'percpu', struct: t } },
  ];
  const ops: Op[] = [
    { op: 'lookup', slot, dst: 'e' },
    { op: 'read', ptr: 'e', field: 'sum', global: g },
    { op: 'write', ptr: 'e', field: 'sum', value: '7' },
    { op: 'new', dst: 'p', struct: t, percpu: true },
    { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
    { op: 'xchg', slot, src: 'p', dst: 'p' },
    { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'drop', var: 'p', percpu: true }] },
  ];
  return {
    id,
    description: `${kind}: the element's sum is 0, 7, then 0 again for the owner that follows owner_exit`,
    origin: null,
    intent: { kind: 'valid' },
    structs: [{ name: t, members: [{ kind: 'scalar', name: 'c', ctype: 'long', count: null }] }],
    slots: [{ name: slot, home: { kind }, pointee: t, tag: 'percpu_kptr' }],
    globals: [{ name: g, ctype: 'long' }],
    programs: [{ name: prog, progType, license: 'GPL', vars, ops }],
    schedule: [{ program: prog, cpu: 0, repeat: 1 }, { program: prog, cpu: 1, repeat: 1 }, { owner_exit: true }, { program: prog, cpu: 0, repeat: 1 }],
  };
}
