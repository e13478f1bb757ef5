import { btfType, skipModifiers } from './skipModifiers.ts';
import type { Btf } from './kinds.ts';

/** Bytes of a BPF pointer. */
const POINTER_SIZE = 8;

/**
 * sizeof the type, as the kernel's btf_resolve_size: arrays multiply out, modifiers, typedefs and VARs are followed,
 * pointers are 8 bytes. null for what has no size: void, FWD (incomplete), FUNC, FUNC_PROTO, DECL_TAG.
 */
export function typeSize(btf: Btf, id: number): number | null {
  const t = btfType(btf, skipModifiers(btf, id));
  switch (t.kind) {
    case 'INT':
    case 'STRUCT':
    case 'UNION':
    case 'ENUM':
    case 'ENUM64':
    case 'FLOAT':
    case 'DATASEC':
      return t.size;
    case 'PTR':
      return POINTER_SIZE;
    case 'ARRAY': {
      const elem = typeSize(btf, t.type);
      return elem === null ? null : elem * t.nelems;
    }
    case 'VAR':
      return typeSize(btf, t.type);
    default:
      return null;
  }
}
