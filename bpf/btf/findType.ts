import type { Btf, BtfType } from './kinds.ts';

/** The id of the first type called `name` (of `kind`, if given), or null; clang emits each named type once. */
export function findType(btf: Btf, name: string, kind?: BtfType['kind']): number | null {
  const id = btf.types.findIndex((t) => t.name === name && (kind === undefined || t.kind === kind));
  return id > 0 ? id : null;
}
