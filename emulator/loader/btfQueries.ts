import type { Btf, BtfType } from '../../bpf/btf/kinds.ts';
import { skipModifiers } from '../../bpf/btf/skipModifiers.ts';
import { typeSize } from '../../bpf/btf/typeSize.ts';
import type { KptrField } from './objectSpec.ts';

/** The questions the loader and the machine ask of an object's BTF, beyond bpf/btf's own helpers. */

/** For an integer or enum type: whether it is signed (BTF_INT_SIGNED, or an enum's kind_flag); else null. */
export function signedness(btf: Btf, id: number): boolean | null {
  const t = btf.types[skipModifiers(btf, id)];
  if (t?.kind === 'INT') return t.encoding === 'SIGNED';
  if (t?.kind === 'ENUM' || t?.kind === 'ENUM64') return t.signed;
  return null;
}

/** A pointer member `T __kptr *` / `T __percpu_kptr *`: PTR → TYPE_TAG → (modifiers) → STRUCT, as clang emits it. */
function kptrOf(btf: Btf, id: number, offset: number): KptrField | null {
  const p = btf.types[skipModifiers(btf, id)];
  if (p?.kind !== 'PTR') return null;
  const tag = btf.types[p.type];
  if (tag?.kind !== 'TYPE_TAG' || (tag.name !== 'kptr' && tag.name !== 'percpu_kptr')) return null;
  const pointeeTypeId = skipModifiers(btf, tag.type);
  const s = btf.types[pointeeTypeId];
  return { offset, tag: tag.name, pointeeTypeId, pointee: s?.name ?? '' };
}

/**
 * The kptr fields of a value of type `id` at byte `base` (btf_parse_fields for BPF_KPTR_*): members of structs,
 * nested structs and arrays of them, appended to `out` (one array for a whole walk: objects' BTF holds thousands of
 * members).
 */
export function kptrFields(btf: Btf, id: number, base = 0, out: KptrField[] = []): KptrField[] {
  const direct = kptrOf(btf, id, base);
  if (direct) {
    out.push(direct);
    return out;
  }
  const t = btf.types[skipModifiers(btf, id)];
  if (t?.kind === 'STRUCT') {
    for (const m of t.members) if (m.bitOffset % 8 === 0) kptrFields(btf, m.type, base + m.bitOffset / 8, out);
  } else if (t?.kind === 'ARRAY') {
    const one = kptrFields(btf, t.type, 0);
    if (one.length === 0) return out;
    const size = typeSize(btf, t.type) ?? 0;
    for (let i = 0; i < t.nelems; i++) for (const f of one) out.push({ ...f, offset: base + i * size + f.offset });
  }
  return out;
}

/** The byte offset of a `struct bpf_spin_lock` member of the struct `id` (btf_parse_fields for BPF_SPIN_LOCK), or null. */
export function spinLockOffset(btf: Btf, id: number): number | null {
  const t = btf.types[skipModifiers(btf, id)];
  if (t?.kind !== 'STRUCT') return null;
  const m = t.members.find((x) => {
    const mt = btf.types[skipModifiers(btf, x.type)];
    return mt?.kind === 'STRUCT' && mt.name === 'bpf_spin_lock' && x.bitOffset % 8 === 0;
  });
  return m === undefined ? null : m.bitOffset / 8;
}

/** Every DATASEC of the BTF by name, with its id. */
export function datasecs(btf: Btf): Map<string, { readonly id: number; readonly type: Extract<BtfType, { kind: 'DATASEC' }> }> {
  const out = new Map<string, { readonly id: number; readonly type: Extract<BtfType, { kind: 'DATASEC' }> }>();
  for (let id = 0; id < btf.types.length; id++) {
    const type = btf.types[id]!;
    if (type.kind === 'DATASEC') out.set(type.name, { id, type });
  }
  return out;
}
