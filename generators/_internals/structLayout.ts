import { memberOffsets, scalarSize, structLayout } from '../../cabi/structLayout.ts';
import type { ScalarCType, StructType } from '../../types/index.ts';

/** Field paths and value ranges that steer generation; sizes are cabi's (the C ABI facts the whole tool shares). */

/** `sizeof(struct name)` as clang lays it out for `-target bpf`. */
export function structSize(structs: readonly StructType[], name: string): number {
  return structLayout(structs, name).size;
}

/** Whether bpf_percpu_obj_new takes the struct: scalars only (no array of structs), at most 512 bytes. */
export function percpuAllocatable(structs: readonly StructType[], name: string): boolean {
  const layout = structLayout(structs, name);
  return layout.scalarsOnly && layout.size <= 512;
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
  for (const { member: m } of memberOffsets(structs, name)) {
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

/** scalarMax of each type, worked out once (a write of the largest value is one in four) */
const SCALAR_MAX = new Map<ScalarCType, string>();

/** Largest value (decimal string) a field of this type holds, kept positive for signed types so reads stay exact. */
export function scalarMax(ctype: ScalarCType): string {
  let max = SCALAR_MAX.get(ctype);
  if (max === undefined) {
    const bits = scalarSize(ctype) * 8;
    const signed = !ctype.startsWith('__u');
    SCALAR_MAX.set(ctype, (max = ((1n << BigInt(signed ? bits - 1 : bits)) - 1n).toString()));
  }
  return max;
}
