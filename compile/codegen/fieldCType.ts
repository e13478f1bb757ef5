import type { ScalarCType, StructType } from '../../types/index.ts';
import { perStructs } from '../../cabi/perStructs.ts';

const SEGMENT = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$/;

/**
 * The scalar type a field path (`c`, `arr[2]`, `inner.x`, `inner[1].y`) names inside `struct
 * <structName>`, or a sentence saying why the path names no scalar member. Indices must be within
 * the array: a constant out-of-bounds index is undefined behaviour clang may compile away.
 */
export function fieldCType(
  structs: readonly StructType[],
  structName: string,
  path: string,
): { readonly ctype: ScalarCType } | { readonly error: string } {
  return fieldCTypeOf(structs, structName, path);
}

const fieldCTypeOf = perStructs((structs, structName, path): { readonly ctype: ScalarCType } | { readonly error: string } => {
  let currentName = structName;
  const segments = path.split('.');
  for (const [i, segment] of segments.entries()) {
    const current = structs.find((t) => t.name === currentName);
    if (!current) return { error: `struct ${currentName} is not defined` };
    const m = SEGMENT.exec(segment);
    if (!m) return { error: `field path "${path}" is not of the form a, a[1], a.b, a[1].b` };
    const [, name, index] = m;
    const member = current.members.find((x) => x.name === name);
    if (!member) return { error: `struct ${current.name} has no member ${name}` };
    const count = member.kind === 'scalar' || member.kind === 'struct' ? member.count : null;
    if (index !== undefined && (count === null || Number(index) >= count)) {
      return { error: `${segment} indexes past member ${name} of struct ${current.name}` };
    }
    if (index === undefined && count !== null) {
      return { error: `member ${name} of struct ${current.name} is an array; the path must index it` };
    }
    const last = i === segments.length - 1;
    if (last) {
      return member.kind === 'scalar'
        ? { ctype: member.ctype }
        : { error: `member ${name} of struct ${current.name} is not a scalar` };
    }
    if (member.kind !== 'struct') return { error: `member ${name} of struct ${current.name} is not a struct` };
    currentName = member.struct;
  }
  return { error: `empty field path` };
});
