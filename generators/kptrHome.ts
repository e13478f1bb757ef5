import type fc from 'fast-check';
import * as d from './_internals/drawing.ts';
import type { KptrHome, LocalStorageKind, MapType } from '../types/index.ts';

/** Every map type that may hold a `__percpu_kptr` field and that the codegen knows (kernel-semantics §4, J1). */
export const ALL_MAP_TYPES: readonly MapType[] = ['array', 'hash', 'lru_hash', 'percpu_array', 'percpu_hash', 'lru_percpu_hash'];

/** The local storages a slot may live in (upstream percpu_alloc_cgrp_local_storage.c). */
export const ALL_LOCAL_STORAGES: readonly LocalStorageKind[] = ['task_storage', 'cgrp_storage'];

/** Options of {@link kptrHome}. */
export interface KptrHomeConstraints {
  /** Map types to draw from. @defaultValue {@link ALL_MAP_TYPES} */
  readonly mapTypes?: readonly MapType[];
  /** Whether `.bss`/`.data` globals may hold the slot. @defaultValue true */
  readonly globals?: boolean;
  /** Local storages to draw from (a slot in one in about 1 scenario in 7 by default). @defaultValue {@link ALL_LOCAL_STORAGES} */
  readonly localStorages?: readonly LocalStorageKind[];
}

/**
 * Where a kptr slot lives: a one-element map value, a global in a non-mmapable `.bss.*`/`.data.*` section, or the
 * local storage of the task (or its cgroup) the programs run in.
 *
 * @remarks Since 0.1.0
 * @public
 */
export function kptrHome(c: KptrHomeConstraints = {}): fc.Arbitrary<KptrHome> {
  const mapTypes = c.mapTypes ?? ALL_MAP_TYPES;
  const localStorages = c.localStorages ?? ALL_LOCAL_STORAGES;
  const homes: fc.WeightedArbitrary<KptrHome>[] = [];
  if (mapTypes.length > 0) homes.push({ arbitrary: d.constantFrom(...mapTypes).map((mapType) => ({ kind: 'map' as const, mapType })), weight: 3 });
  if (c.globals ?? true) homes.push({ arbitrary: d.constantFrom('bss' as const, 'data' as const).map((section) => ({ kind: 'global' as const, section })), weight: 3 });
  if (localStorages.length > 0) homes.push({ arbitrary: d.constantFrom(...localStorages).map((kind) => ({ kind })), weight: 1 });
  if (homes.length === 0) throw new Error('kptrHome: constraints leave no home (no map type, no globals, no local storage)');
  return d.oneof({}, ...homes);
}
