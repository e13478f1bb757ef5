import fc from 'fast-check';
import { memoised } from './_internals/memoised.ts';
import { record } from './_internals/record.ts';
import * as d from './_internals/drawing.ts';
import type { ScalarCType, StructMember, StructType } from '../types/index.ts';

/** The one member that makes bpf_percpu_obj_new refuse a struct (rules percpu_obj_new.not_scalars / special_fields). */
export type StructSpecialMember = 'pointer' | 'spin_lock' | 'nested_spin_lock' | 'kptr';

/** Options of {@link structType}. */
export interface StructTypeConstraints {
  /** C identifier of the struct. */
  readonly name: string;
  /**
   * Structs this one may embed as `struct` members (by value, optionally as arrays).
   * @defaultValue `[]`
   */
  readonly nestable?: readonly StructType[];
  /**
   * `'small'`: 1 to 6 scalar (or nested) members; a number: exactly that many bytes, built from arrays of one
   * scalar width so no padding creeps in (512, 513, 520, 600 probe the bpf_percpu_obj_new size limit).
   * @defaultValue `'small'`
   */
  readonly size?: 'small' | number;
  /**
   * Add one member the kernel must refuse in a per-CPU object. `'nested_spin_lock'` embeds the first struct of
   * `nestable` that holds a bpf_spin_lock; `'kptr'` points at `kptrPointee`.
   * @defaultValue `null`
   */
  readonly special?: StructSpecialMember | null;
  /** Pointee of a `'kptr'` special member. @defaultValue the struct itself */
  readonly kptrPointee?: string;
}

const SCALARS_BY_WIDTH: Readonly<Record<number, readonly ScalarCType[]>> = {
  1: ['char', '__u8', '__s8'],
  2: ['short', '__u16', '__s16'],
  4: ['int', '__u32', '__s32'],
  8: ['long', '__u64', '__s64'],
};
const ALL_SCALARS: readonly ScalarCType[] = Object.values(SCALARS_BY_WIDTH).flat();

/** `f<i>`: member names, made once */
const FIELD_NAMES = Array.from({ length: 8 }, (_, i) => `f${i}`);

/** A member before it gets its name (distributes over the union). */
type MemberShape = StructMember extends infer M ? (M extends StructMember ? Omit<M, 'name'> : never) : never;

function holdsSpinLock(s: StructType): boolean {
  return s.members.some((m) => m.kind === 'spin_lock');
}

function isScalarOnly(s: StructType): boolean {
  return s.members.every((m) => m.kind === 'scalar');
}

function smallMember(nestable: readonly StructType[]): fc.Arbitrary<MemberShape> {
  const count = d.option(d.integer({ min: 1, max: 4 }), { freq: 4, nil: null });
  const scalar = record({ kind: d.constant('scalar' as const), ctype: d.constantFrom(...ALL_SCALARS), count });
  const inner = nestable.filter(isScalarOnly);
  if (inner.length === 0) return scalar;
  const nested = record({ kind: d.constant('struct' as const), struct: d.constantFrom(...inner.map((s) => s.name)), count });
  return d.oneof<MemberShape>({}, { arbitrary: scalar, weight: 4 }, { arbitrary: nested, weight: 1 });
}

/** Members totalling exactly `size` bytes: 1 to 3 arrays/scalars of one width that divides `size`. */
function exactSizeMembers(size: number): fc.Arbitrary<MemberShape[]> {
  const widths = [8, 4, 2, 1].filter((w) => size % w === 0);
  return record({ width: d.constantFrom(...widths), parts: d.integer({ min: 1, max: 3 }) })
    .chain(memoised(({ width, parts }) => {
      const elems = size / width;
      const k = Math.min(parts, elems);
      const cuts = k === 1 ? d.constant([]) : d.uniqueArray(d.integer({ min: 1, max: elems - 1 }), { minLength: k - 1, maxLength: k - 1 });
      return d.tuple(d.constantFrom(...(SCALARS_BY_WIDTH[width] ?? [])), cuts).map(([ctype, cuts]) => {
        const bounds = [0, ...[...cuts].sort((a, b) => a - b), elems];
        return bounds.slice(1).map((end, i) => {
          const n = end - (bounds[i] ?? 0);
          return { kind: 'scalar' as const, ctype, count: n === 1 ? null : n };
        });
      });
    }, ({ width, parts }) => `${width}x${parts}`));
}

function specialMember(c: StructTypeConstraints): MemberShape | null {
  switch (c.special ?? null) {
    case null: return null;
    case 'pointer': return { kind: 'pointer' };
    case 'spin_lock': return { kind: 'spin_lock' };
    case 'kptr': return { kind: 'kptr', pointee: c.kptrPointee ?? c.name };
    case 'nested_spin_lock': {
      const holder = (c.nestable ?? []).find(holdsSpinLock);
      if (holder === undefined) throw new Error(`structType: nested_spin_lock for ${c.name} needs a nestable struct holding a bpf_spin_lock`);
      return { kind: 'struct', struct: holder.name, count: null };
    }
  }
}

/**
 * A C struct for a kptr slot or a `new`: scalar-only by default (what bpf_percpu_obj_new accepts), of a small
 * random layout or of an exact size, optionally with one refused member at a random position.
 * Members are named `f0`, `f1`, ... in order.
 *
 * @remarks Since 0.1.0
 * @public
 */
export function structType(c: StructTypeConstraints): fc.Arbitrary<StructType> {
  const size = c.size ?? 'small';
  const body = size === 'small'
    ? d.array(smallMember(c.nestable ?? []), { minLength: 1, maxLength: 6 })
    : exactSizeMembers(size);
  const special = specialMember(c);
  return d.tuple(body, d.nat()).map(([members, at]) => {
    const shapes = special === null ? members : [...members.slice(0, at % (members.length + 1)), special, ...members.slice(at % (members.length + 1))];
    return { name: c.name, members: shapes.map(named) };
  });
}

/**
 * The i-th member, named: its fields in the order `{ ...m, name }` gives them (a scenario's JSON is what a seed
 * replays), built field by field (a spread over the member shapes is a slow generic copy).
 */
function named(m: MemberShape, i: number): StructMember {
  const name = FIELD_NAMES[i] ?? `f${i}`;
  switch (m.kind) {
    case 'scalar': return { kind: m.kind, ctype: m.ctype, count: m.count, name };
    case 'struct': return { kind: m.kind, struct: m.struct, count: m.count, name };
    case 'kptr': return { kind: m.kind, pointee: m.pointee, name };
    case 'pointer': case 'spin_lock': return { kind: m.kind, name };
  }
}
