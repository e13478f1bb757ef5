import type { KptrHome } from '../types/index.ts';

/**
 * The map that holds a map-home slot (ARCHITECTURE.md, "Maps"): `int` key, value `struct <slot>_elem { long sum;
 * struct T __percpu_kptr *pc; }` (with `spinLock`, then `struct bpf_spin_lock lock;`), one element. Programs use
 * key 0; key 1 is the one past max_entries.
 */
export const SLOT_MAP_MAX_ENTRIES = 1;
/** byte offsets of the value's members: `sum`, then the kptr field, then the spin lock if the value has one */
export const SLOT_VALUE_SUM_OFF = 0;
export const SLOT_VALUE_KPTR_OFF = 8;
export const SLOT_VALUE_LOCK_OFF = 16;
/** sizeof(struct bpf_spin_lock) */
export const SPIN_LOCK_SIZE = 4;

/** whether the slot's value holds a bpf_spin_lock (KptrHome.spinLock: map homes only) */
export function hasSpinLock(home: KptrHome): boolean {
  return home.kind === 'map' && home.spinLock === true;
}

/** sizeof(struct <slot>_elem): 16, or 24 with the spin lock (4 bytes, padded to the struct's 8-byte alignment) */
export function slotValueSize(home: KptrHome): number {
  return hasSpinLock(home) ? 24 : 16;
}

/** bpf_map_update_elem's flags (include/uapi/linux/bpf.h), by the name a map-op step gives them */
export const MAP_UPDATE_FLAG_VALUES = { BPF_ANY: 0, BPF_NOEXIST: 1, BPF_EXIST: 2 } as const;
/** BPF_F_LOCK (include/uapi/linux/bpf.h), or'ed into a map operation's flags or a batch's elem_flags */
export const BPF_F_LOCK = 4;
/** the map types whose value may hold a bpf_spin_lock among the suite's (map_check_btf; others: EOPNOTSUPP) */
export const SPIN_LOCK_MAP_TYPES: ReadonlySet<string> = new Set(['array', 'hash']);

/** map types with one value copy per possible CPU: a program's lookup gives its own CPU's copy */
export const PERCPU_MAP_TYPES: ReadonlySet<string> = new Set(['percpu_array', 'percpu_hash', 'lru_percpu_hash']);
/**
 * map types whose update takes a node from the LRU first (htab_lru_map_update_elem, prealloc_lru_pop): in a full
 * map that evicts an element, even the one being updated (specs/ops/map/update.yaml)
 */
export const LRU_MAP_TYPES: ReadonlySet<string> = new Set(['lru_hash', 'lru_percpu_hash']);
