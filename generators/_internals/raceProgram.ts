import type { GlobalVar, Op, ProgType, Program, VarDecl } from '../../types/index.ts';

/**
 * Small programs built to race on one __percpu_kptr slot when two CPUs run them at once (a `concurrent` step):
 * - `swap`: a new object exchanged into the slot (returns 1 when it took one out, which it drops), then `value`
 *   written on `cpu`'s copy of whatever the slot holds now;
 * - `take`: the slot's object exchanged for NULL and dropped (returns 1 when there was one): drop against new;
 * - `sum`: `value` written on the running CPU's copy of the slot's object, then every CPU's copy summed into a
 *   global (a load, an add and a store per CPU: two sums may lose one's addition);
 * - `read`: `cpu`'s copy of the slot's object read into a global: what the slot holds after the race.
 * Valid by construction: every pointer NULL-checked, the owned object released or handed to the slot, a sleepable
 * program's RCU pointers used inside bpf_rcu_read_lock().
 */
export type RaceKind = 'swap' | 'take' | 'sum' | 'read';

export interface RacePlan {
  readonly name: string;
  readonly kind: RaceKind;
  readonly progType: Extract<ProgType, 'tc' | 'syscall'>;
  /** the slot (a `percpu_kptr` one) and its pointee's scalar field the program writes, reads or sums */
  readonly slot: string;
  readonly struct: string;
  readonly field: string;
  readonly value: string;
  readonly cpu: number;
  /** the name of the global a `sum` or `read` writes */
  readonly global: string;
}

export function raceProgram(p: RacePlan): { readonly program: Program; readonly globals: readonly GlobalVar[] } {
  const vars: VarDecl[] = [
    { name: 'v0', type: { kind: 'map_value', slot: p.slot } },
    { name: 'v1', type: { kind: 'percpu', struct: p.struct } },
    { name: 'v2', type: { kind: 'percpu', struct: p.struct } },
    { name: 'v3', type: { kind: 'plain', struct: p.struct } },
  ];
  const ifNonNull = (v: string, then: Op[]): Op => ({ op: 'if', var: v, is: 'nonnull', then });
  const rcu = (ops: Op[]): Op[] => (p.progType === 'syscall' ? [{ op: 'rcu_lock' }, ...ops, { op: 'rcu_unlock' }] : ops);
  /** on `cpu`'s copy (or the running CPU's) of the object the slot holds now: `then`, then `after` */
  const onCurrent = (thisCpu: boolean, then: Op[], after: Op[] = []): Op[] => rcu([
    { op: 'load', slot: p.slot, dst: 'v2' },
    ifNonNull('v2', [
      thisCpu ? { op: 'this_cpu_ptr', src: 'v2', dst: 'v3' } : { op: 'per_cpu_ptr', src: 'v2', cpu: p.cpu, dst: 'v3' },
      ifNonNull('v3', then),
      ...after,
    ]),
  ]);
  const write: Op = { op: 'write', ptr: 'v3', field: p.field, value: p.value };
  const dropTaken: Op[] = [ifNonNull('v1', [{ op: 'drop', var: 'v1', percpu: true }, { op: 'return', value: 1 }])];
  const lookup: Op = { op: 'lookup', slot: p.slot, dst: 'v0' };
  const globals: GlobalVar[] = p.kind === 'sum' || p.kind === 'read' ? [{ name: p.global, ctype: '__u64' }] : [];
  let ops: Op[];
  switch (p.kind) {
    case 'swap':
      ops = [
        lookup, { op: 'new', dst: 'v1', struct: p.struct, percpu: true },
        { op: 'if', var: 'v1', is: 'null', then: [{ op: 'return', value: 0 }] },
        { op: 'xchg', slot: p.slot, src: 'v1', dst: 'v1' },
        ...onCurrent(false, [write]),
        ...dropTaken,
      ];
      break;
    case 'take':
      ops = [lookup, { op: 'xchg', slot: p.slot, src: null, dst: 'v1' }, ...dropTaken];
      break;
    case 'sum':
      ops = [lookup, ...onCurrent(true, [write], [{ op: 'sum', src: 'v2', field: p.field, global: p.global }])];
      break;
    case 'read':
      ops = [lookup, ...onCurrent(false, [{ op: 'read', ptr: 'v3', field: p.field, global: p.global }])];
      break;
  }
  return { program: { name: p.name, progType: p.progType, license: 'GPL', vars: vars.filter((v) => names(ops, v.name)), ops }, globals };
}

/** Whether an op of `ops` (an `if` body's included) names variable `v`: the program declares only those it uses. */
function names(ops: readonly Op[], v: string): boolean {
  return ops.some((o) => Object.values(o).some((x) => x === v || (Array.isArray(x) && names(x, v))));
}
