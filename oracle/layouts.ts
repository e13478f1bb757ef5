import type { StructType } from '../types/index.ts';
import { type FieldSlot, fieldSlot, type StructLayout, structLayout } from '../cabi/structLayout.ts';

/**
 * cabi/structLayout.ts's answers for one scenario's structs, memoised by its struct list: the verifier model asks at
 * every explored read, write and `new`, the run-time model at every field access. What throws is not kept (it throws again).
 */
const memo = new WeakMap<readonly StructType[], Map<string, StructLayout>>();

/** structLayout, memoised */
export function layoutOf(structs: readonly StructType[], name: string): StructLayout {
  let byName = memo.get(structs);
  if (byName === undefined) memo.set(structs, (byName = new Map()));
  let s = byName.get(name);
  if (s === undefined) byName.set(name, (s = structLayout(structs, name)));
  return s;
}

/** fieldSlot, which cabi memoises per struct list itself (perStructs) */
export function fieldOf(structs: readonly StructType[], name: string, path: string): FieldSlot {
  return fieldSlot(structs, name, path);
}
