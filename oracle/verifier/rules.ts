import { isLocalStorage, type ProgType, type Slot } from '../../types/index.ts';
import type { StructLayout } from '../../cabi/structLayout.ts';
import { type Handle, isMaybeNull, printedType } from './state.ts';

/**
 * Rule conditions as predicates over the abstract state, one ordered list per kind of operation.
 * The order inside a list is the order in which the kernel checks one call (research/kernel-semantics.md §2);
 * the first violated rule that exists on the kernel decides the message. Message text is never written here:
 * it comes from the spec, filled with the params each check computes.
 */

/** `${param}` values for a rule's message lines. */
export type Params = Readonly<Record<string, string>>;

export interface Check<C> {
  readonly rule: string;
  readonly violated: (c: C) => boolean;
  readonly params: (c: C) => Params;
}

/** A rule whose condition holds at some instruction. */
export interface RuleHit {
  readonly ruleId: string;
  readonly params: Params;
  /**
   * another rule whose known divergences may change how a kernel words this error: a kernel that types
   * bpf_per_cpu_ptr's result non-NULL (per_cpu_ptr.unchecked_result's divergence) names it `rcu_ptr_` and judges it so
   */
  readonly via?: string;
}

/** First check of `checks` that is violated and exists on this kernel. */
export function firstViolation<C>(checks: readonly Check<C>[], c: C, applies: (rule: string) => boolean): RuleHit | null {
  for (const check of checks) {
    if (check.violated(c) && applies(check.rule)) return { ruleId: check.rule, params: check.params(c) };
  }
  return null;
}

const none = (): Params => ({});

// ---- bpf_percpu_obj_new (B5 → B6 → B7) -------------------------------------------------------------------------
export interface NewCtx { readonly layout: StructLayout; readonly kfunc: string }
export const NEW_PERCPU_CHECKS: readonly Check<NewCtx>[] = [
  { rule: 'percpu_obj_new.size_limit', violated: (c) => c.layout.size > 512, params: (c) => ({ size: String(c.layout.size), limit: '512', struct: c.layout.name, kfunc: c.kfunc }) },
  { rule: 'percpu_obj_new.not_scalars', violated: (c) => !c.layout.scalarsOnly, params: (c) => ({ struct: c.layout.name, kfunc: c.kfunc }) },
  { rule: 'percpu_obj_new.special_fields', violated: (c) => c.layout.directSpecial, params: (c) => ({ struct: c.layout.name, kfunc: c.kfunc }) },
  { rule: 'percpu_obj_new.nested_special_field', violated: (c) => c.layout.nestedSpecial, params: (c) => ({ struct: c.layout.name, kfunc: c.kfunc }) },
];

// ---- bpf_percpu_obj_drop / bpf_obj_drop (C1 → C2/C3 → C4) ---------------------------------------------------------
export interface DropCtx { readonly h: Handle; readonly percpu: boolean; readonly kfunc: string }
/** KF_RELEASE args must be referenced or trusted: owned objects are; an ELEM (MEM_ALLOC|MEM_RCU) is trusted but not an allocated object to release. */
const releasable = (h: Handle): boolean => h.s === 'OWN' || h.s === 'PLAIN_OWN';
export const DROP_CHECKS: readonly Check<DropCtx>[] = [
  // a pointer known NULL (a scalar 0 in the NULL branch of its check) too: register_is_null (measured on 6.18)
  { rule: 'percpu_obj_drop.maybe_null', violated: (c) => isMaybeNull(c.h) || c.h.s === 'NULL', params: (c) => ({ type: printedType(c.h), kfunc: c.kfunc, reg: 'R1' }) },
  { rule: 'percpu_obj_drop.unreferenced', violated: (c) => !releasable(c.h), params: (c) => ({ type: printedType(c.h), kfunc: c.kfunc, reg: 'R1' }) },
  { rule: 'obj_drop.wrong_kind', violated: (c) => !c.percpu && c.h.s === 'OWN', params: (c) => ({ kfunc: c.kfunc, reg: 'R1' }) },
  { rule: 'percpu_obj_drop.wrong_kind', violated: (c) => c.percpu && c.h.s === 'PLAIN_OWN', params: (c) => ({ kfunc: c.kfunc, reg: 'R1' }) },
];

// ---- bpf_kptr_xchg R2 (D5/D6 → D7 → D8) --------------------------------------------------------------------------
export interface XchgCtx { readonly src: Handle; readonly slot: Slot; readonly isKptrField: boolean }
const XCHG_SOURCES = new Set(['NULL', 'OWN?', 'OWN', 'PLAIN_OWN?', 'PLAIN_OWN', 'ELEM?', 'ELEM']);
const isPercpuObj = (h: Handle): boolean => h.s === 'OWN' || h.s === 'OWN?';
const isPlainObj = (h: Handle): boolean => h.s === 'PLAIN_OWN' || h.s === 'PLAIN_OWN?';
const isElem = (h: Handle): boolean => h.s === 'ELEM' || h.s === 'ELEM?';
/** perm_flags of map_kptr_match_type: MEM_PERCPU only into a __percpu_kptr field. */
const flagsAllowed = (c: XchgCtx): boolean => !(c.slot.tag === 'kptr' && isPercpuObj(c.src));
export const XCHG_CHECKS: readonly Check<XchgCtx>[] = [
  // R1 first (check_func_arg order): a map value without a parsed kptr (6.1 ignores the percpu_kptr tag)
  { rule: 'kptr_xchg.no_kptr', violated: (c) => !c.isKptrField, params: none },
  // check_reg_type masks MEM_ALLOC|MEM_PERCPU of allocated objects and folds PTR_MAYBE_NULL; anything else is not a source
  { rule: 'kptr_xchg.bad_src', violated: (c) => !XCHG_SOURCES.has(c.src.s), params: (c) => ({ type: printedType(c.src), reg: 'R2' }) },
  // map_kptr_match_type on MEM_ALLOC|MEM_RCU: MEM_RCU is never an allowed flag, so no struct name is printed
  { rule: 'kptr_xchg.rcu_src', violated: (c) => isElem(c.src), params: (c) => ({ type: printedType(c.src), struct: c.slot.pointee, reg: 'R2' }) },
  // map_kptr_match_type: flags outside the field's allowed set (MEM_PERCPU into a plain kptr) or another struct
  {
    rule: 'kptr_xchg.type_mismatch',
    violated: (c) => c.src.s !== 'NULL' && (c.src.struct !== c.slot.pointee || (c.slot.tag === 'kptr' && isPercpuObj(c.src))),
    // the struct name is printed only once the flags passed (reg_name is looked up after the perm_flags check)
    params: (c) => ({ type: `${printedType(c.src)}${flagsAllowed(c) ? c.src.struct ?? '' : ''}`, struct: c.slot.pointee, reg: 'R2' }),
  },
  { rule: 'kptr_xchg.plain_into_percpu', violated: (c) => c.slot.tag === 'percpu_kptr' && isPlainObj(c.src), params: (c) => ({ type: printedType(c.src), struct: c.slot.pointee, reg: 'R2' }) },
];

// ---- bpf_per_cpu_ptr / bpf_this_cpu_ptr R1 (F2) --------------------------------------------------------------------
export interface PercpuPtrCtx { readonly h: Handle }
export const PERCPU_PTR_CHECKS: readonly Check<PercpuPtrCtx>[] = [
  // accepted: percpu_ptr_ (ksym), percpu_rcu_ptr_, percpu_trusted_ptr_; the only one a kptr can reach is a checked RCU pointer
  { rule: 'percpu_ptr.bad_arg', violated: (c) => c.h.s !== 'RCU', params: (c) => ({ type: printedType(c.h), reg: 'R1' }) },
];

// ---- field load/store through a pointer (G2 maybe-NULL → G1 MEM_PERCPU → G3 untrusted write) --------------------
export interface DerefCtx { readonly h: Handle; readonly off: number; readonly write: boolean }
const PERCPU_MEM = new Set(['OWN', 'RCU', 'UNTR_PCPU']);
export const DEREF_CHECKS: readonly Check<DerefCtx>[] = [
  // the unchecked bpf_per_cpu_ptr result has a rule of its own: real kernels get exactly this one wrong
  { rule: 'per_cpu_ptr.unchecked_result', violated: (c) => c.h.s === 'ELEM?' && c.h.perCpuResult === true, params: (c) => ({ type: printedType(c.h) }) },
  { rule: 'mem.maybe_null_deref', violated: (c) => isMaybeNull(c.h), params: (c) => ({ type: printedType(c.h) }) },
  { rule: 'mem.scalar_deref', violated: (c) => c.h.s === 'DEAD' || c.h.s === 'NULL' || c.h.s === 'UNINIT', params: () => ({ type: 'scalar' }) },
  { rule: 'percpu.direct_deref', violated: (c) => PERCPU_MEM.has(c.h.s), params: (c) => ({ struct: c.h.struct ?? '', off: String(c.off) }) },
  // "only read is supported": an untrusted pointer may be read (PROBE_MEM) but never written
  { rule: 'mem.untrusted_write', violated: (c) => c.write && (c.h.s === 'UNTR_RAW' || c.h.s === 'UNTR_ELEM'), params: none },
];

// ---- bpf_cgrp_storage_get R2 (F3): the owner, task->cgroups->dfl_cgrp --------------------------------------------
export interface StorageOwnerCtx { readonly slot: Slot; readonly progType: ProgType; readonly inRcuCs: boolean; readonly gpl: boolean }
export const STORAGE_OWNER_CHECKS: readonly Check<StorageOwnerCtx>[] = [
  // the owner comes from bpf_get_current_task_btf, a gpl_only helper called before the storage helper
  { rule: 'helper.gpl_only', violated: (c) => !c.gpl && isLocalStorage(c.slot.home), params: none },
  // bpf_task_storage_get: a tracing helper that later kernels offer every program type
  { rule: 'local_storage.prog_type', violated: (c) => c.slot.home.kind === 'task_storage' && c.progType === 'tc', params: none },
  // task->cgroups is __rcu: MEM_RCU inside an RCU critical section, PTR_UNTRUSTED outside (a sleepable program's body)
  { rule: 'local_storage.untrusted_owner', violated: (c) => c.slot.home.kind === 'cgrp_storage' && !c.inRcuCs, params: () => ({ reg: 'R2', type: 'untrusted_ptr_' }) },
];

// ---- direct store to a kptr field (E1) ------------------------------------------------------------------------------
export interface StoreCtx { readonly isKptrField: boolean }
export const STORE_CHECKS: readonly Check<StoreCtx>[] = [
  { rule: 'kptr.direct_store', violated: (c) => c.isKptrField, params: none },
];

// ---- bpf_rcu_read_lock / unlock (H1, H2) ----------------------------------------------------------------------------
export interface RcuCtx { readonly depth: number; readonly nestingAllowed: boolean }
export const RCU_LOCK_CHECKS: readonly Check<RcuCtx>[] = [
  { rule: 'rcu.nested_lock', violated: (c) => c.depth > 0 && !c.nestingAllowed, params: () => ({ kfunc: 'bpf_rcu_read_lock' }) },
];
export const RCU_UNLOCK_CHECKS: readonly Check<RcuCtx>[] = [
  { rule: 'rcu.unmatched_unlock', violated: (c) => c.depth === 0, params: () => ({ kfunc: 'bpf_rcu_read_unlock' }) },
];

// ---- BPF_EXIT (I1, H4; order depends on the kernel: check_resource_leak runs the leak check first) ----------------
export interface ExitCtx { readonly liveRefs: number; readonly depth: number }
const LEAK: Check<ExitCtx> = { rule: 'ref.leak', violated: (c) => c.liveRefs > 0, params: none };
const LOCKED: Check<ExitCtx> = { rule: 'rcu.exit_locked', violated: (c) => c.depth > 0, params: () => ({ kfunc: 'bpf_rcu_read_unlock' }) };
export function exitChecks(leakFirst: boolean): readonly Check<ExitCtx>[] {
  return leakFirst ? [LEAK, LOCKED] : [LOCKED, LEAK];
}
