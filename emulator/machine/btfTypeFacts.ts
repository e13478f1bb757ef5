import type { Btf } from '../../bpf/btf/kinds.ts';
import { kptrFields, sizeOf, skipModifiers } from '../loader/btfQueries.ts';
import type { KptrField } from '../loader/objectSpec.ts';
import type { TypeFacts } from './Heap.ts';

/** TypeFacts from an object's BTF, each type looked up once (local type ids of bpf_obj_new are few). */
export function btfTypeFacts(btf: Btf): TypeFacts {
  const sizes = new Map<number, number | null>();
  const fields = new Map<number, readonly KptrField[]>();
  const isStruct = (id: number): boolean => btf.types[skipModifiers(btf, id)]?.kind === 'STRUCT';
  return {
    sizeOf: (id) => {
      if (!sizes.has(id)) sizes.set(id, isStruct(id) ? sizeOf(btf, id) : null);
      return sizes.get(id) as number | null;
    },
    kptrFields: (id) => {
      let f = fields.get(id);
      if (!f) fields.set(id, (f = kptrFields(btf, id)));
      return f;
    },
    name: (id) => btf.types[skipModifiers(btf, id)]?.name ?? `#${id}`,
  };
}
