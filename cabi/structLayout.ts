import type { ScalarCType, StructMember, StructType } from '../types/index.ts';
import { KptrError } from '../errors/KptrError.ts';
import { perStructs } from './perStructs.ts';

/** A scalar leaf of a struct: where it is and what C type it has. */
export interface FieldSlot {
  readonly off: number;
  readonly ctype: ScalarCType;
}

/** C layout of a scenario struct, as clang lays it out for BPF (natural alignment, LP64). */
export interface StructLayout {
  readonly name: string;
  readonly size: number;
  readonly align: number;
  /** every member is a scalar, or a struct/array of those with at least one element (`btf_type_is_struct_of_scalars`) */
  readonly scalarsOnly: boolean;
  /** a special field (bpf_spin_lock) is a direct member */
  readonly directSpecial: boolean;
  /** a special field sits in a nested struct */
  readonly nestedSpecial: boolean;
}

/** Each C scalar type on BPF (LP64): its size in bytes and whether it is signed (char is signed on the BPF target). */
const SCALARS: Readonly<Record<ScalarCType, readonly [size: number, signed: boolean]>> = {
  char: [1, true], short: [2, true], int: [4, true], long: [8, true],
  __u8: [1, false], __u16: [2, false], __u32: [4, false], __u64: [8, false],
  __s8: [1, true], __s16: [2, true], __s32: [4, true], __s64: [8, true],
};

/** Size in bytes of a C scalar type on BPF (LP64). */
export function scalarSize(ctype: ScalarCType): number {
  return SCALARS[ctype][0];
}

/** Whether a C scalar type is signed on BPF. */
export function scalarSigned(ctype: ScalarCType): boolean {
  return SCALARS[ctype][1];
}

function structOf(structs: readonly StructType[], name: string): StructType {
  const s = structs.find((t) => t.name === name);
  if (!s) throw new KptrError('KPTR_SCENARIO_INVALID', `struct ${name} is not defined in the scenario`, 'Define every struct a slot, a new or a struct member names.');
  return s;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

interface MemberShape {
  readonly size: number;
  readonly align: number;
  readonly elems: number;
  readonly elemSize: number;
  /** a struct member's struct (null for the other kinds) */
  readonly inner: StructLayout | null;
}

function memberShape(structs: readonly StructType[], m: StructMember, depth: number): MemberShape {
  switch (m.kind) {
    case 'scalar': {
      const sz = scalarSize(m.ctype);
      const elems = m.count ?? 1;
      return { size: sz * elems, align: sz, elems, elemSize: sz, inner: null };
    }
    case 'struct': {
      const inner = layoutOf(structs, m.struct, depth + 1);
      const elems = m.count ?? 1;
      return { size: inner.size * elems, align: inner.align, elems, elemSize: inner.size, inner };
    }
    case 'spin_lock':
      // struct bpf_spin_lock { __u32 val; }
      return { size: 4, align: 4, elems: 1, elemSize: 4, inner: null };
    case 'pointer':
    case 'kptr':
      return { size: 8, align: 8, elems: 1, elemSize: 8, inner: null };
  }
}

function layoutOf(structs: readonly StructType[], name: string, depth: number): StructLayout {
  if (depth > 16) throw new KptrError('KPTR_SCENARIO_INVALID', `struct ${name} contains itself`, 'Remove the recursive struct member.');
  const s = structOf(structs, name);
  let off = 0;
  let align = 1;
  let scalarsOnly = true;
  let directSpecial = false;
  let nestedSpecial = false;
  for (const m of s.members) {
    const shape = memberShape(structs, m, depth);
    off = alignUp(off, shape.align) + shape.size;
    align = Math.max(align, shape.align);
    if (m.kind === 'pointer' || m.kind === 'kptr') scalarsOnly = false;
    if (m.kind === 'spin_lock') directSpecial = true;
    if ((m.kind === 'scalar' || m.kind === 'struct') && m.count === 0) scalarsOnly = false;
    // a "struct of scalars" admits arrays of scalars only: an array of structs is not a scalar member
    // (measured on 6.18: `struct { struct in f[2]; }` gets "must be of a struct of scalars")
    if (m.kind === 'struct' && m.count !== null) scalarsOnly = false;
    const inner = shape.inner;
    if (inner !== null) {
      if (!inner.scalarsOnly) scalarsOnly = false;
      if (inner.directSpecial || inner.nestedSpecial) nestedSpecial = true;
    }
  }
  return { name, size: alignUp(off, align), align, scalarsOnly, directSpecial, nestedSpecial };
}

/** Lay out struct `name` of the scenario. */
export function structLayout(structs: readonly StructType[], name: string): StructLayout {
  return layoutOf(structs, name, 0);
}

/** Every member of struct `name` with its byte offset, in declaration order. */
export function memberOffsets(structs: readonly StructType[], name: string): { readonly member: StructMember; readonly off: number }[] {
  let off = 0;
  return structOf(structs, name).members.map((m) => {
    const shape = memberShape(structs, m, 0);
    off = alignUp(off, shape.align);
    const at = off;
    off += shape.size;
    return { member: m, off: at };
  });
}

/** Offset of member `member` (and its shape) inside struct `name`. */
function memberAt(structs: readonly StructType[], name: string, member: string): { m: StructMember; off: number; shape: MemberShape } {
  const found = memberOffsets(structs, name).find((x) => x.member.name === member);
  if (found) return { m: found.member, off: found.off, shape: memberShape(structs, found.member, 0) };
  throw new KptrError('KPTR_SCENARIO_INVALID', `struct ${name} has no member ${member}`, 'Name an existing scalar member in the field path.');
}

const SEGMENT = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$/;

/**
 * Resolve a field path (`c`, `arr[2]`, `inner.x`, `inner[1].y`) of struct `name` to a scalar leaf and its byte offset,
 * which is what the verifier prints as `off=` for an access through the struct's base pointer.
 */
export function fieldSlot(structs: readonly StructType[], name: string, path: string): FieldSlot {
  return fieldSlotOf(structs, name, path);
}

const fieldSlotOf = perStructs((structs, name, path): FieldSlot => {
  let struct = name;
  let base = 0;
  const segments = path.split('.');
  for (const [i, seg] of segments.entries()) {
    const parsed = SEGMENT.exec(seg);
    if (!parsed) throw new KptrError('KPTR_SCENARIO_INVALID', `bad field path ${path}`, 'Write field paths as `c`, `arr[2]` or `inner.x`.');
    const { m, off, shape } = memberAt(structs, struct, parsed[1] as string);
    const index = parsed[2] === undefined ? 0 : Number(parsed[2]);
    if (index >= shape.elems) throw new KptrError('KPTR_SCENARIO_INVALID', `index out of range in ${path}`, 'Index arrays within their count.');
    base += off + index * shape.elemSize;
    const last = i === segments.length - 1;
    if (m.kind === 'scalar' && last) return { off: base, ctype: m.ctype };
    if (m.kind === 'struct' && !last) {
      struct = m.struct;
      continue;
    }
    break;
  }
  throw new KptrError('KPTR_SCENARIO_INVALID', `field path ${path} of struct ${name} does not name a scalar member`, 'Name a scalar member (through nested structs with `.`).');
});
