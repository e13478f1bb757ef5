import type { LocalStorageKind, Op, ProgType, Scenario, VarDecl } from '../../types/index.ts';

/**
 * Local-storage scenarios shared by the unit, kernel and VM tests, after upstream's
 * percpu_alloc_cgrp_local_storage.c: a slot in the storage of the task (or cgroup) the programs run in.
 */

/** What a run of {@link storageCounter}'s program returns: 1 when the owner's slot was empty, 2 when it held an object. */
export const EMPTY = 1, HELD = 2;

/**
 * One program puts a fresh per-CPU object into the owner's slot and drops what the slot held; it runs twice, the owner
 * exits, and it runs again. A fresh owner's element starts with a NULL field (specs/ops/lifetime/owner_exit.yaml), so
 * a tc or syscall program returns EMPTY, HELD, then EMPTY again (a tracing program returns 0).
 */
export function storageCounter(id: string, kind: LocalStorageKind, progType: ProgType): Scenario {
  const slot = `${id}_m`, t = `${id}_t`, prog = `${id}_p`;
  const ret = (v: number): Op => ({ op: 'return', value: progType === 'tc' || progType === 'syscall' ? v : 0 });
  const vars: VarDecl[] = [
    { name: 'e', type: { kind: 'map_value', slot } },
    { name: 'p', type: { kind: 'percpu', struct: t } },
    { name: 'old', type: { kind: 'percpu', struct: t } },
  ];
  const ops: Op[] = [
    { op: 'lookup', slot, dst: 'e' },
    { op: 'new', dst: 'p', struct: t, percpu: true },
    { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
    { op: 'xchg', slot, src: 'p', dst: 'old' },
    { op: 'if', var: 'old', is: 'nonnull', then: [{ op: 'drop', var: 'old', percpu: true }, ret(HELD)] },
    ret(EMPTY),
  ];
  return {
    id,
    description: `${kind}: the owner's slot is empty, then holds an object, then is empty again for the owner after owner_exit`,
    origin: null,
    intent: { kind: 'valid' },
    structs: [{ name: t, members: [{ kind: 'scalar', name: 'c', ctype: 'long', count: null }] }],
    slots: [{ name: slot, home: { kind }, pointee: t, tag: 'percpu_kptr' }],
    globals: [],
    programs: [{ name: prog, progType, license: 'GPL', vars, ops }],
    schedule: [{ program: prog, cpu: 0, repeat: 1 }, { program: prog, cpu: 1, repeat: 1 }, { owner_exit: true }, { program: prog, cpu: 0, repeat: 1 }],
  };
}
