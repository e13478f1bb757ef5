import type { LocalStorageKind, MapType, Slot } from '../../types/index.ts';
import { globalSlotSection, slotElemName } from './scenarioIdentifiers.ts';
import { hasSpinLock, SLOT_MAP_MAX_ENTRIES } from '../../cabi/slotMap.ts';

const MAP_TYPES: Readonly<Record<MapType, string>> = {
  array: 'BPF_MAP_TYPE_ARRAY',
  hash: 'BPF_MAP_TYPE_HASH',
  lru_hash: 'BPF_MAP_TYPE_LRU_HASH',
  percpu_array: 'BPF_MAP_TYPE_PERCPU_ARRAY',
  percpu_hash: 'BPF_MAP_TYPE_PERCPU_HASH',
  lru_percpu_hash: 'BPF_MAP_TYPE_LRU_PERCPU_HASH',
};

/** Local storage maps: no max_entries (one element per owner), and the kernel requires BPF_F_NO_PREALLOC. */
const LOCAL_STORAGE_MAP_TYPES: Readonly<Record<LocalStorageKind, string>> = {
  task_storage: 'BPF_MAP_TYPE_TASK_STORAGE',
  cgrp_storage: 'BPF_MAP_TYPE_CGRP_STORAGE',
};

/** The C pointer type a slot holds: `struct <pointee> __percpu_kptr *` or `struct <pointee> __kptr *`. */
export function slotPointerType(slot: Slot): string {
  return `struct ${slot.pointee} ${slot.tag === 'percpu_kptr' ? '__percpu_kptr' : '__kptr'} *`;
}

/**
 * Storage for each slot. A map home is a one-element map named after the slot (key int 0) whose
 * value is `struct <slot>_elem { long sum; <pointer> pc; }`, as in selftests' percpu_alloc_array.c (with
 * `spinLock`, `struct bpf_spin_lock lock;` last, which BPF_F_LOCK map operations take).
 * A global home is a static variable in its own `.bss.<slot>`/`.data.<slot>` section: libbpf makes
 * a data map mmapable only if it holds a non-static variable, and a map whose value has a kptr
 * field cannot be mmapped, so the kptr must not share plain .bss/.data with the result globals.
 * A local-storage home is a task or cgroup storage map with the same value struct, as in selftests'
 * percpu_alloc_cgrp_local_storage.c.
 */
export function emitSlots(slots: readonly Slot[]): string[] {
  return slots.flatMap((slot) => {
    if (slot.home.kind === 'global') {
      const section = globalSlotSection(slot.name, slot.home.section);
      // zero in .data.* is still PROGBITS (section named by prefix); "= NULL" says it is data on purpose
      const init = slot.home.section === 'data' ? ' = NULL' : '';
      return [`static ${slotPointerType(slot)}${slot.name} SEC("${section}")${init};`, ''];
    }
    return [
      `struct ${slotElemName(slot.name)} {`,
      '\tlong sum;',
      `\t${slotPointerType(slot)}pc;`,
      // after the kptr field, so `sum` and `pc` keep their offsets (cabi/slotMap.ts SLOT_VALUE_LOCK_OFF)
      ...(hasSpinLock(slot.home) ? ['\tstruct bpf_spin_lock lock;'] : []),
      '};',
      '',
      'struct {',
      ...(slot.home.kind === 'map'
        ? [`\t__uint(type, ${MAP_TYPES[slot.home.mapType]});`, `\t__uint(max_entries, ${SLOT_MAP_MAX_ENTRIES});`]
        : [`\t__uint(type, ${LOCAL_STORAGE_MAP_TYPES[slot.home.kind]});`, '\t__uint(map_flags, BPF_F_NO_PREALLOC);']),
      '\t__type(key, int);',
      `\t__type(value, struct ${slotElemName(slot.name)});`,
      `} ${slot.name} SEC(".maps");`,
      '',
    ];
  });
}
