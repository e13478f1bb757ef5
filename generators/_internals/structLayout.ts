import type { ScalarCType, StructMember, StructType } from '../../types/index.ts';

/**
 * The generators' own view of C struct layout on the BPF target (LP64: `long` is 8 bytes).
 * The oracle computes layout independently; this copy only steers generation (size classes, field paths).
 */

const SCALAR_SIZE: Readonly<Record<ScalarCType, number>> = {
  char: 1, __u8: 1, __s8: 1,
  short: 2, __u16: 2, __s16: 2,
  int: 4, __u32: 4, __s32: 4,
  long: 8, __u64: 8, __s64: 8,
};

/** Byte size of a scalar C type. */
export function scalarSize(ctype: ScalarCType): number {
  return SCALAR_SIZE[ctype];
}

interface Layout { readonly size: number; readonly align: number }

function findStruct(structs: readonly StructType[], name: string): StructType {
  const s = structs.find((t) => t.name === name);
  if (s === undefined) throw new Error(`generators: struct ${name} is not defined`);
  return s;
}

function memberLayout(structs: readonly StructType[], m: StructMember): Layout {
  switch (m.kind) {
    case 'scalar': {
      const n = scalarSize(m.ctype);
      return { size: n * (m.count ?? 1), align: n };
    }
    case 'struct': {
      const inner = structLayout(structs, m.struct);
      return { size: inner.size * (m.count ?? 1), align: inner.align };
    }
    case 'pointer':
    case 'kptr':
      return { size: 8, align: 8 };
    case 'spin_lock':
      // struct bpf_spin_lock { __u32 val; }
      return { size: 4, align: 4 };
  }
}

function structLayout(structs: readonly StructType[], name: string): Layout {
  let off = 0;
  let align = 1;
  for (const m of findStruct(structs, name).members) {
    const l = memberLayout(structs, m);
    off = Math.ceil(off / l.align) * l.align + l.size;
    align = Math.max(align, l.align);
  }
  return { size: Math.ceil(off / align) * align, align };
}

/** `sizeof(struct name)` as clang lays it out for `-target bpf`. */
export function structSize(structs: readonly StructType[], name: string): number {
  return structLayout(structs, name).size;
}

/** A scalar field reachable from a struct, with its C type: `c`, `arr[3]`, `inner.x`, `inner[1].y`. */
export interface FieldPath {
  readonly path: string;
  readonly ctype: ScalarCType;
}

/** Array indices worth naming: the first and the last element (bounded, whatever the array length). */
function indices(count: number | null): readonly (number | null)[] {
  if (count === null) return [null];
  return count > 1 ? [0, count - 1] : [0];
}

function subscript(name: string, i: number | null): string {
  return i === null ? name : `${name}[${i}]`;
}

/**
 * Scalar field paths of a struct, usable in `write`/`read`/`sum` ops. Arrays contribute their first and last element;
 * pointer, bpf_spin_lock and kptr members contribute nothing.
 */
export function scalarFieldPaths(structs: readonly StructType[], name: string): readonly FieldPath[] {
  const out: FieldPath[] = [];
  for (const m of findStruct(structs, name).members) {
    if (m.kind === 'scalar') {
      for (const i of indices(m.count)) out.push({ path: subscript(m.name, i), ctype: m.ctype });
    } else if (m.kind === 'struct') {
      const inner = scalarFieldPaths(structs, m.struct);
      for (const i of indices(m.count)) {
        for (const f of inner) out.push({ path: `${subscript(m.name, i)}.${f.path}`, ctype: f.ctype });
      }
    }
  }
  return out;
}

/** Largest value (decimal string) a field of this type holds, kept positive for signed types so reads stay exact. */
export function scalarMax(ctype: ScalarCType): string {
  const bits = scalarSize(ctype) * 8;
  const signed = !ctype.startsWith('__u');
  return ((1n << BigInt(signed ? bits - 1 : bits)) - 1n).toString();
}
