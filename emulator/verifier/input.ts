/**
 * What the verifier model is given for one program: the relocated instructions (as libbpf sends them to
 * BPF_PROG_LOAD), the maps they reference, and the few facts of the program's BTF the kernel consults. The loader
 * adapter (fromLoader.ts) fills it; tests build it by hand.
 */

/** A program-BTF struct as the verifier names it in messages (`ptr_val_t`). */
export interface BtfStruct {
  readonly id: number;
  readonly name: string;
  readonly size: number;
}

/** A special field of a map value the kernel found in BTF (btf_parse_fields); only the kptr kinds matter here. */
export interface KptrField {
  readonly off: number;
  readonly kind: 'kptr' | 'percpu_kptr' | 'kptr_untrusted';
  readonly pointee: BtfStruct;
}

export type MapKind = 'array' | 'hash' | 'lru_hash' | 'percpu_array' | 'percpu_hash' | 'lru_percpu_hash' | 'task_storage' | 'cgrp_storage';

export interface MapDesc {
  readonly name: string;
  readonly kind: MapKind;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** BPF_F_RDONLY_PROG + frozen (.rodata): loads at constant offsets read these bytes (bpf_map_direct_read) */
  readonly frozenValue: Uint8Array | null;
  /** fields of the value type found by the kernel; null when the map has no BTF */
  readonly fields: readonly KptrField[] | null;
  /** the value holds a struct bpf_spin_lock (btf_record_has_field(map->record, BPF_SPIN_LOCK)) */
  readonly spinLock: boolean;
}

/** What `bpf_obj_new`'s local type id names in the program BTF, as check_kfunc_call looks at it. */
export interface LocalType {
  readonly kind: 'struct' | 'other';
  readonly name: string;
  readonly size: number;
  /** __btf_type_is_scalar_struct: only integers, enums, arrays of them and nested such structs (≤ 3 deep) */
  readonly scalarsOnly: boolean;
  /** btf_find_struct_meta found special fields (spin lock, kptr, list head, ...) among the direct members */
  readonly specialFields: boolean;
}

/** The second slot of an ld_imm64 resolved the way libbpf rewrites it. */
export type LdImm64 =
  | { readonly kind: 'imm'; readonly value: bigint }
  | { readonly kind: 'map'; readonly map: MapDesc }
  | { readonly kind: 'map_value'; readonly map: MapDesc; readonly off: number };

export type ProgKind = 'sched_cls' | 'syscall' | 'tracing';

export interface VerifierProgram {
  readonly name: string;
  readonly progKind: ProgKind;
  readonly sleepable: boolean;
  /** fentry target (`bpf_fentry_test1`) for tracing programs */
  readonly attachTo: string | null;
  readonly license: string;
  /** instruction slots as slot words (bpf/asm/insn.ts insnWords: two per slot); an ld_imm64 takes two slots */
  readonly words: Int32Array;
  /** the number of slots */
  readonly length: number;
  /** per slot index: the resolved ld_imm64 starting there */
  readonly ldImm64: Readonly<Record<number, LdImm64>>;
  /** per slot index: the kfunc a call there names (libbpf's RELO_EXTERN_FUNC) */
  readonly kfuncCalls: Readonly<Record<number, string>>;
  /** the object's kfunc externs (all programs), as libbpf resolves them before any load */
  readonly externKfuncs: readonly string[];
  readonly localType: (btfId: number) => LocalType | null;
}

/** license_is_gpl_compatible (include/linux/license.h): the licenses that may call gpl_only helpers and kfuncs. */
const GPL_COMPATIBLE = new Set(['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL']);
export const isGplCompatible = (license: string): boolean => GPL_COMPATIBLE.has(license);
