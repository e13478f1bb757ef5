import type { Btf } from '../../bpf/btf/kinds.ts';
import { skipModifiers } from '../../bpf/btf/skipModifiers.ts';
import { typeSize } from '../../bpf/btf/typeSize.ts';
import { kptrFields } from '../loader/btfQueries.ts';
import type { KptrField } from '../loader/objectSpec.ts';
import type { TypeFacts } from './Heap.ts';

/** TypeFacts from an object's BTF, each type looked up once (local type ids of bpf_obj_new are few). */
export function btfTypeFacts(btf: Btf): TypeFacts {
  const sizes = new Map<number, number | null>();
  const fields = new Map<number, readonly KptrField[]>();
  // the id comes from a program's register: anything, not only a type the BTF has
  const isStruct = (id: number): boolean => Number.isInteger(id) && id > 0 && id < btf.types.length && btf.types[skipModifiers(btf, id)]?.kind === 'STRUCT';
  return {
    sizeOf: (id) => {
      // one lookup per allocation: a known id maps to a number or null, never undefined
      let size = sizes.get(id);
      if (size === undefined) sizes.set(id, (size = isStruct(id) ? typeSize(btf, id) : null));
      return size;
    },
    kptrFields: (id) => {
      let f = fields.get(id);
      if (!f) fields.set(id, (f = kptrFields(btf, id)));
      return f;
    },
    name: (id) => (isStruct(id) ? btf.types[skipModifiers(btf, id)]?.name : undefined) ?? `#${id}`,
  };
}
