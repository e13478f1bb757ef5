import type { StructType } from '../types/index.ts';
import { type FieldSlot, fieldSlot, type StructLayout, structLayout } from '../cabi/structLayout.ts';

// cabi/structLayout.ts's answers for one scenario's structs: the verifier model asks at every explored read, write
// and `new`, the run-time model at every field access. What throws is not kept (it throws again).

/**
 * structLayout, memoised in `memo`, which predict makes for one prediction (not a WeakMap keyed by the scenario's
 * struct list: an entry per scenario costs more than the layouts it saves)
 */
export function layoutOf(memo: Map<string, StructLayout>, structs: readonly StructType[], name: string): StructLayout {
  let s = memo.get(name);
  if (s === undefined) memo.set(name, (s = structLayout(structs, name)));
  return s;
}

/** fieldSlot, which cabi memoises per struct list itself (perStructs) */
export function fieldOf(structs: readonly StructType[], name: string, path: string): FieldSlot {
  return fieldSlot(structs, name, path);
}
