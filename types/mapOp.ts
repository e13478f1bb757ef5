/**
 * Userspace map operations as schedule steps: bpf(2) BPF_MAP_*_ELEM from the runner's own process on the map that
 * holds a slot (specs/ops/map/*.yaml). Plain data; u64 values are decimal strings.
 */
import type { MapType } from './scenario.ts';
import type { ErrnoName } from './spec.ts';

export type MapOpKind =
  | 'update' | 'delete' | 'lookup' | 'lookup_and_delete'
  | 'update_batch' | 'delete_batch' | 'lookup_batch' | 'lookup_and_delete_batch';

/** The batch forms (BPF_MAP_*_BATCH): libbpf bpf_map_update_batch and its kin. */
export type MapBatchOpKind = 'update_batch' | 'delete_batch' | 'lookup_batch' | 'lookup_and_delete_batch';

/** bpf_map_update_elem's flags; BPF_F_LOCK is a step's separate `lock` (it combines with each of these). */
export type MapUpdateFlag = 'BPF_ANY' | 'BPF_NOEXIST' | 'BPF_EXIST';

/**
 * One userspace operation on the element `key` of the map of map-home slot `slot`. The map has max_entries 1 and
 * programs use key 0, so key 1 is the missing or out-of-range key. An update writes `sum` into the value's `sum`
 * member (on every CPU of a per-CPU map) and zero into the kptr field, which the kernel ignores.
 */
export type MapOpStep =
  | { readonly mapOp: 'update'; readonly slot: string; readonly key: number; readonly flags: MapUpdateFlag; readonly sum: string; readonly lock?: boolean }
  | { readonly mapOp: 'lookup' | 'lookup_and_delete'; readonly slot: string; readonly key: number; readonly lock?: boolean }
  | { readonly mapOp: 'delete'; readonly slot: string; readonly key: number }
  /**
   * A batch update writes `keys` in order, each as `update` would with BPF_ANY; `flags` is the batch's `elem_flags`,
   * where the kernel takes BPF_F_LOCK only (BPF_NOEXIST and BPF_EXIST are EINVAL).
   */
  | { readonly mapOp: 'update_batch'; readonly slot: string; readonly keys: readonly number[]; readonly flags: MapUpdateFlag; readonly sum: string; readonly lock?: boolean }
  | { readonly mapOp: 'delete_batch'; readonly slot: string; readonly keys: readonly number[] }
  /** A batch lookup from the start of the map (in_batch NULL) with room for `count` elements. */
  | { readonly mapOp: 'lookup_batch' | 'lookup_and_delete_batch'; readonly slot: string; readonly count: number; readonly lock?: boolean };

/**
 * Whether the step passes BPF_F_LOCK (a batch: in elem_flags): the kernel copies the value under the value's spin
 * lock (copy_map_value_locked). Absent `lock` means false.
 */
export function mapOpLock(step: MapOpStep): boolean {
  return 'lock' in step && step.lock === true;
}

/**
 * What one map operation gave: 0 or the errno name, and for a lookup that succeeded the value's 8-byte words
 * (`sum`, the kptr field) per CPU (one copy for a map that is not per-CPU), as decimal strings.
 */
export interface MapOpResult {
  /** index into the scenario's schedule */
  readonly step: number;
  readonly mapOp: MapOpKind;
  /** the type of the slot's map (what coverage counts by) */
  readonly mapType: MapType;
  readonly err: ErrnoName | null;
  /** for a batch lookup: the copies of every element returned, element after element (each `count` copies per CPU) */
  readonly value: readonly (readonly string[])[] | null;
  /**
   * batch operations only: `count` after the call, as libbpf hands it back (attr.batch.count): the elements done
   * before the first failure, the elements returned, or the count passed in where the kernel fails before it
   * writes the field
   */
  readonly count?: number;
  /** batch lookups only: the keys returned, in order */
  readonly keys?: readonly number[];
}

/** When a map operation fails (specs/ops/map/*.yaml `errors`); the oracle decides which holds, the contract the errno. */
export type MapOpCondition =
  /** the key is not an index below max_entries (array maps) */
  | 'key_out_of_range'
  /** BPF_NOEXIST and the element exists (every in-range element of an array exists) */
  | 'noexist_on_existing'
  /** BPF_EXIST, delete or lookup, and the element does not exist */
  | 'missing'
  /** a new element and the map already holds max_entries */
  | 'map_full'
  /** elements of this map type cannot be removed */
  | 'not_removable'
  /** a batch's elem_flags hold more than BPF_F_LOCK (BPF_NOEXIST, BPF_EXIST) */
  | 'bad_elem_flags'
  /** a batch lookup walked past the map's last element (hash maps: past the last bucket) */
  | 'end_of_map'
  /** BPF_F_LOCK and the map's value holds no spin lock (btf_record_has_field(map->record, BPF_SPIN_LOCK) fails) */
  | 'lock_without_spin_lock';

/** The documented contract of one userspace map operation for a value with a kptr field. */
export interface MapOpContract {
  readonly mapOp: MapOpKind;
  /** the bpf(2) command: `BPF_MAP_UPDATE_ELEM` */
  readonly command: string;
  /** what happens to the object the element's kptr field holds */
  readonly kptrField: string;
  /** what later programs and lookups observe */
  readonly afterwards: string;
  /**
   * failures in the order the kernel checks them: the first that holds for the map type decides the errno. A batch
   * update or delete checks its keys in order and stops at the first failing key; a batch lookup that meets
   * `end_of_map` still returns what it copied.
   */
  readonly errors: readonly { readonly when: MapOpCondition; readonly mapTypes: readonly MapType[]; readonly errno: ErrnoName }[];
}
