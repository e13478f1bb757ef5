/**
 * What the loader makes of a BPF object: what libbpf would hand the kernel for it (programs relocated, maps
 * described, .rodata set), as plain data. The machine runs it; the verifier model checks it. Stable: other stages
 * build on these names.
 *
 * Plain data: JSON-serialisable except byte contents (`Uint8Array`) and instruction words (`Int32Array`), no classes, `null` not `undefined`.
 * Instruction slots keep the kernel's encoding after libbpf's relocation (bpf_object__relocate_data):
 *  - ld_imm64 of a map: src_reg BPF_PSEUDO_MAP_FD (1), imm = index into `maps` (libbpf writes the map's fd);
 *  - ld_imm64 of a global: src_reg BPF_PSEUDO_MAP_VALUE (2), imm = index into `maps`, second slot's imm = offset;
 *  - kfunc call: src_reg BPF_PSEUDO_KFUNC_CALL (2), imm = index into `kfuncs` (libbpf writes the kernel BTF id);
 *    an unresolved weak kfunc keeps libbpf's form: src_reg 0, imm 0 (`call 0`, which the verifier refuses);
 *  - subprogram call: src_reg BPF_PSEUDO_CALL (1), imm = relative offset within this program's slots (the
 *    subprograms a program calls are appended after its own code, as libbpf does);
 *  - CO-RE TYPE_ID_LOCAL (kind 6): the ld_imm64's imm = the local BTF type id.
 * `relocations` keeps, per instruction, what it was relocated against (for messages and the verifier).
 */
import type { Btf } from '../../bpf/btf/kinds.ts';

/** BPF_PROG_TYPE_* of the program types kptr-conform's objects use, from the SEC() name as libbpf maps it. */
export type BpfProgType = 'BPF_PROG_TYPE_SCHED_CLS' | 'BPF_PROG_TYPE_SYSCALL' | 'BPF_PROG_TYPE_TRACING';

export interface ProgramSpec {
  /** the STT_FUNC symbol */
  readonly name: string;
  /** ELF section, as SEC() wrote it: `?tc`, `syscall`, `?fentry.s/bpf_fentry_test1` */
  readonly section: string;
  readonly progType: BpfProgType;
  /** BPF_TRACE_FENTRY for fentry/fentry.s, else null */
  readonly attachType: 'BPF_TRACE_FENTRY' | null;
  /** the traced function of a tracing program (`bpf_fentry_test1`), else null */
  readonly attachTo: string | null;
  /** BPF_F_SLEEPABLE: `fentry.s/`, and `syscall` programs run sleepable too */
  readonly sleepable: boolean;
  /** false for a leading `?` in the section name (libbpf loads it only when asked) */
  readonly autoload: boolean;
  /**
   * relocated instruction slots (see the file comment; ld_imm64 takes two) as two words each: bpf/asm insn.ts
   * decodeInsnWords' form, read with insnAt or slotCode and the like
   */
  readonly words: Int32Array;
  /** instruction index of the first slot of each appended subprogram, by its symbol name */
  readonly subprograms: readonly { readonly name: string; readonly insn: number }[];
  readonly relocations: readonly Relocation[];
  /** BTF FUNC id of the program (from .BTF.ext func_info), or null without one */
  readonly btfFuncId: number | null;
}

/** What one instruction was relocated against. */
export type Relocation =
  | { readonly kind: 'map'; readonly insn: number; readonly map: number }
  | { readonly kind: 'map_value'; readonly insn: number; readonly map: number; readonly offset: number }
  | { readonly kind: 'kfunc'; readonly insn: number; readonly kfunc: number }
  /** a weak extern nothing resolves (libbpf: `call 0` / ld_imm64 0) */
  | { readonly kind: 'unresolved_weak'; readonly insn: number; readonly name: string }
  | { readonly kind: 'subprog'; readonly insn: number; readonly target: number; readonly name: string }
  | { readonly kind: 'type_id_local'; readonly insn: number; readonly typeId: number }
  /** CO-RE FIELD_BYTE_OFFSET: the load's offset is that of `struct.field` in the emulated kernel (emulator/vmlinux) */
  | { readonly kind: 'field_byte_offset'; readonly insn: number; readonly struct: string; readonly field: string };

/** enum bpf_map_type, by the names kptr-conform uses (types/scenario.ts MapType, and the local-storage homes) */
export type BpfMapType = 'array' | 'hash' | 'lru_hash' | 'percpu_array' | 'percpu_hash' | 'lru_percpu_hash' | 'task_storage' | 'cgrp_storage';

export const MAP_TYPE_IDS: Readonly<Record<BpfMapType, number>> = { hash: 1, array: 2, percpu_hash: 5, percpu_array: 6, lru_hash: 9, lru_percpu_hash: 10, task_storage: 29, cgrp_storage: 32 };

/** local storage: one element per owner (a task, a cgroup), no max_entries, BPF_F_NO_PREALLOC */
export const LOCAL_STORAGE_MAP_TYPES: ReadonlySet<BpfMapType> = new Set(['task_storage', 'cgrp_storage']);

/** A kptr field of a map value (or global) found from a BTF type tag on the field's pointee. */
export interface KptrField {
  /** byte offset in the value */
  readonly offset: number;
  /** BTF type tag: `kptr` (__kptr) or `percpu_kptr` (__percpu_kptr) */
  readonly tag: 'kptr' | 'percpu_kptr';
  /** BTF id of the pointee struct, and its name */
  readonly pointeeTypeId: number;
  readonly pointee: string;
}

/** A variable of an internal map's DATASEC, as the harness decodes globals. */
export interface DatasecVar {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  /** BTF id of the VAR's type */
  readonly typeId: number;
  /** for an integer (or enum) type: whether it is signed; null for anything else */
  readonly signed: boolean | null;
}

export interface MapSpec {
  /** `.maps` variable name; for internal maps the section name (`.bss`, `.rodata`, `.bss.<slot>`) */
  readonly name: string;
  readonly type: BpfMapType;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** BPF_F_RDONLY_PROG for .rodata, BPF_F_MMAPABLE for internal maps without special fields */
  readonly flags: number;
  /** BTF ids of key and value types (internal maps: key null, value the DATASEC) */
  readonly keyTypeId: number | null;
  readonly valueTypeId: number | null;
  /** internal maps: the section they come from; null for `.maps` maps */
  readonly internal: { readonly section: string; readonly kind: 'bss' | 'data' | 'rodata' } | null;
  /** internal maps: the value's initial bytes (.rodata after the values set before load); null otherwise */
  readonly initial: Uint8Array | null;
  readonly kptrFields: readonly KptrField[];
  /** byte offset of the value's `struct bpf_spin_lock` member (what BPF_F_LOCK takes), or null: none */
  readonly spinLockOffset: number | null;
  /** internal maps: the DATASEC's variables; [] otherwise */
  readonly vars: readonly DatasecVar[];
}

export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_MMAPABLE = 1 << 10;

/** A kfunc extern from `.ksyms` the programs call. */
export interface KfuncSpec {
  readonly name: string;
  /** BTF id of the extern FUNC in the object's BTF */
  readonly btfFuncId: number;
  readonly weak: boolean;
}

export interface BpfObjectSpec {
  /** the `license` section's string */
  readonly license: string;
  readonly programs: readonly ProgramSpec[];
  readonly maps: readonly MapSpec[];
  readonly kfuncs: readonly KfuncSpec[];
  /** the object's BTF, as bpf/btf reads it */
  readonly btf: Btf;
}
