import type { Btf, BtfType } from './kinds.ts';

const MODIFIERS = new Set<BtfType['kind']>(['CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG']);

/**
 * The id after CONST, VOLATILE, RESTRICT, TYPE_TAG and (by default) TYPEDEF, as the kernel's btf_type_skip_modifiers
 * resolves a type before looking at its kind. Stops at void (0).
 * @throws RangeError on a cycle or an id the BTF does not have
 */
export function skipModifiers(btf: Btf, id: number, options?: { readonly typedefs?: boolean }): number {
  // no default object: this runs for every type a load looks at
  const typedefs = options?.typedefs ?? true;
  for (let steps = 0; steps <= btf.types.length; steps++) {
    const t = btfType(btf, id);
    if (!(MODIFIERS.has(t.kind) || (typedefs && t.kind === 'TYPEDEF'))) return id;
    id = (t as { type: number }).type;
  }
  throw new RangeError(`BTF type ${id}: modifier cycle`);
}

/** types[id], or a RangeError naming the id. */
export function btfType(btf: Btf, id: number): BtfType {
  const t = btf.types[id];
  if (t === undefined) throw new RangeError(`BTF has no type ${id} (${btf.types.length - 1} types)`);
  return t;
}
