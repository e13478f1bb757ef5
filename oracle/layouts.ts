import type { StructType } from '../types/index.ts';
import { type FieldSlot, fieldSlot, type StructLayout, structLayout } from '../cabi/structLayout.ts';

/**
 * cabi/structLayout.ts's answers for one scenario's structs, memoised by its struct list: the verifier model asks at
 * every explored read, write and `new`, the run-time model at every field access. What throws is not kept (it throws again).
 */
interface Layouts {
  readonly structs: Map<string, StructLayout>;
  readonly fields: Map<string, Map<string, FieldSlot>>;
}

const memo = new WeakMap<readonly StructType[], Layouts>();

function layoutsOf(structs: readonly StructType[]): Layouts {
  let l = memo.get(structs);
  if (l === undefined) memo.set(structs, (l = { structs: new Map(), fields: new Map() }));
  return l;
}

/** structLayout, memoised */
export function layoutOf(structs: readonly StructType[], name: string): StructLayout {
  const l = layoutsOf(structs);
  let s = l.structs.get(name);
  if (s === undefined) l.structs.set(name, (s = structLayout(structs, name)));
  return s;
}

/** fieldSlot, memoised */
export function fieldOf(structs: readonly StructType[], name: string, path: string): FieldSlot {
  const l = layoutsOf(structs);
  let byPath = l.fields.get(name);
  if (byPath === undefined) l.fields.set(name, (byPath = new Map()));
  let f = byPath.get(path);
  if (f === undefined) byPath.set(path, (f = fieldSlot(structs, name, path)));
  return f;
}
