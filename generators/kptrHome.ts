import fc from 'fast-check';
import type { KptrHome, MapType } from '../types/index.ts';

/** Every map type that may hold a `__percpu_kptr` field and that the codegen knows (kernel-semantics §4, J1). */
export const ALL_MAP_TYPES: readonly MapType[] = ['array', 'hash', 'lru_hash', 'percpu_array', 'percpu_hash', 'lru_percpu_hash'];

/** Options of {@link kptrHome}. */
export interface KptrHomeConstraints {
  /** Map types to draw from. @defaultValue {@link ALL_MAP_TYPES} */
  readonly mapTypes?: readonly MapType[];
  /** Whether `.bss`/`.data` globals may hold the slot. @defaultValue true */
  readonly globals?: boolean;
}

/**
 * Where a kptr slot lives: a one-element map value, or a global in a non-mmapable `.bss.*`/`.data.*` section.
 *
 * @remarks Since 0.1.0
 * @public
 */
export function kptrHome(c: KptrHomeConstraints = {}): fc.Arbitrary<KptrHome> {
  const mapTypes = c.mapTypes ?? ALL_MAP_TYPES;
  const homes: fc.Arbitrary<KptrHome>[] = [];
  if (mapTypes.length > 0) homes.push(fc.constantFrom(...mapTypes).map((mapType) => ({ kind: 'map' as const, mapType })));
  if (c.globals ?? true) homes.push(fc.constantFrom('bss' as const, 'data' as const).map((section) => ({ kind: 'global' as const, section })));
  if (homes.length === 0) throw new Error('kptrHome: constraints leave no home (no map type and no globals)');
  return fc.oneof(...homes);
}
