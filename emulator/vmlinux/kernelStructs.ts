/**
 * The emulated kernel's own structs that programs reach (its vmlinux BTF): the walk from the current task to its
 * cgroup, `task->cgroups->dfl_cgrp` (upstream's percpu_alloc_cgrp_local_storage.c). The loader relocates CO-RE field
 * accesses against these (bpf_core_apply_relo), the verifier types loads of them (check_ptr_to_btf_access) and the
 * machine lays out the task, css_set and cgroup with these offsets. The offsets are this kernel's own, not Linux's: a
 * CO-RE relocation makes a program independent of them, and a load left at the program's own offset 0 finds nothing.
 */
export type KernelStructName = 'task_struct' | 'css_set' | 'cgroup';

/** A pointer member of a kernel struct. */
export interface KernelPtrField {
  readonly name: string;
  readonly off: number;
  readonly pointee: KernelStructName;
  /**
   * In the verifier's BTF_TYPE_SAFE_RCU lists (task_struct.cgroups, css_set.dfl_cgrp): a load from a trusted or RCU
   * pointer inside an RCU critical section is MEM_RCU (trusted, never NULL), outside one PTR_UNTRUSTED.
   */
  readonly safeRcu: boolean;
}

export interface KernelStruct {
  readonly size: number;
  readonly fields: readonly KernelPtrField[];
}

export const KERNEL_STRUCTS: Readonly<Record<KernelStructName, KernelStruct>> = {
  task_struct: { size: 16, fields: [{ name: 'cgroups', off: 8, pointee: 'css_set', safeRcu: true }] },
  css_set: { size: 16, fields: [{ name: 'dfl_cgrp', off: 8, pointee: 'cgroup', safeRcu: true }] },
  // never dereferenced: bpf_cgrp_storage_get's owner
  cgroup: { size: 0, fields: [] },
};

export function isKernelStruct(name: string): name is KernelStructName {
  return Object.hasOwn(KERNEL_STRUCTS, name);
}

/** The ids the verifier gives these structs: negative, so no program BTF id (1, 2, ...) is one of them. */
export const KERNEL_BTF_IDS: Readonly<Record<KernelStructName, number>> = { task_struct: -1, css_set: -2, cgroup: -3 };
