import { btfType, skipModifiers } from './skipModifiers.ts';
import { typeSize } from './typeSize.ts';
import type { Btf } from './kinds.ts';

/** A member of a struct, or of a struct nested in it, with its offset from the outer struct. */
export interface MemberAt {
  /** C access path from the outer struct: `a`, `inner.b`, `arr[2].p`; anonymous members add no name (`d` for `union { char d; }`) */
  readonly path: string;
  /** the member's type id as declared (modifiers and type tags not skipped) */
  readonly type: number;
  readonly bitOffset: number;
  /** 0 unless a bitfield */
  readonly bitfieldSize: number;
}

/**
 * Every member of a STRUCT or UNION in declaration order, depth first: a member whose type is a struct or union is
 * listed, then its members; arrays of structs, unions or pointers are listed element by element (as the kernel's
 * btf_parse_fields finds kptrs in nested structs and arrays). Other arrays are listed as one member.
 */
export function walkMembers(btf: Btf, id: number): MemberAt[] {
  const out: MemberAt[] = [];
  const visit = (typeId: number, prefix: string, base: number): void => {
    const t = btfType(btf, skipModifiers(btf, typeId));
    if (t.kind !== 'STRUCT' && t.kind !== 'UNION') return;
    for (const m of t.members) {
      const path = m.name === '' ? prefix.replace(/\.$/, '') : `${prefix}${m.name}`;
      const bitOffset = base + m.bitOffset;
      out.push({ path, type: m.type, bitOffset, bitfieldSize: m.bitfieldSize });
      const mt = btfType(btf, skipModifiers(btf, m.type));
      if (mt.kind === 'STRUCT' || mt.kind === 'UNION') visit(m.type, path === '' ? '' : `${path}.`, bitOffset);
      else if (mt.kind === 'ARRAY') {
        const elem = btfType(btf, skipModifiers(btf, mt.type));
        const elemBits = (typeSize(btf, mt.type) ?? 0) * 8;
        if (elem.kind !== 'STRUCT' && elem.kind !== 'UNION' && elem.kind !== 'PTR') continue;
        for (let i = 0; i < mt.nelems; i++) {
          const at = `${path}[${i}]`;
          out.push({ path: at, type: mt.type, bitOffset: bitOffset + i * elemBits, bitfieldSize: 0 });
          visit(mt.type, `${at}.`, bitOffset + i * elemBits);
        }
      }
    }
  };
  visit(id, '', 0);
  return out;
}
