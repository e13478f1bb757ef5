import type { ProgType } from './scenario.ts';

/**
 * State-pair coverage (issue 11, item 6): which (operation × handle state × program type) combinations a campaign
 * reached, beside which rules it hit. A rule says why a program is refused; a pair says what the program did to
 * which kind of pointer where, so it also counts the combinations the contract allows.
 */

/**
 * The operations that take a pointer, each named as the kernel names the call or access. `drop` is two kfuncs whose
 * contracts differ (a per-CPU object may only go to bpf_percpu_obj_drop), so they are two ops here.
 * - `xchg`: bpf_kptr_xchg's source (R2); `per_cpu_ptr`, `this_cpu_ptr`: their R1; `sum`: bpf_per_cpu_ptr inside bpf_for
 * - `read`/`write`: a field load/store through the pointer (BPF_LDX / BPF_STX)
 */
export const STATE_PAIR_OPS = ['xchg', 'percpu_obj_drop', 'obj_drop', 'per_cpu_ptr', 'this_cpu_ptr', 'sum', 'read', 'write'] as const;
export type StatePairOp = (typeof STATE_PAIR_OPS)[number];

/**
 * Handle states in the verifier's words (`reg_type_str`, MEM_ALLOC never printed), with two scalars told apart:
 * - `percpu_ptr_or_null_` / `percpu_ptr_`: an owned per-CPU object (ref_obj_id set) before / after its NULL check
 * - `ptr_or_null_` / `ptr_`: an owned bpf_obj_new object
 * - `percpu_rcu_ptr_or_null_` / `percpu_rcu_ptr_`: a per-CPU kptr loaded under RCU (MEM_PERCPU|MEM_RCU, no reference)
 * - `rcu_ptr_or_null_` / `rcu_ptr_`: one CPU's element (bpf_per_cpu_ptr / bpf_this_cpu_ptr), or a plain kptr loaded under RCU
 * - `percpu_untrusted_ptr_`: a per-CPU RCU pointer after the outermost bpf_rcu_read_unlock
 * - `untrusted_ptr_or_null_` / `untrusted_ptr_`: a kptr loaded outside an RCU critical section, or an element after the unlock
 * - `map_value`: the map value (or global) holding a kptr field
 * - `released`: an owned object after its release (a scalar: the reference is gone)
 * - `NULL`: a pointer known to be NULL (the NULL branch of its check, or a literal NULL)
 */
export const STATE_PAIR_STATES = [
  'percpu_ptr_or_null_', 'percpu_ptr_', 'ptr_or_null_', 'ptr_',
  'percpu_rcu_ptr_or_null_', 'percpu_rcu_ptr_', 'rcu_ptr_or_null_', 'rcu_ptr_',
  'percpu_untrusted_ptr_', 'untrusted_ptr_or_null_', 'untrusted_ptr_',
  'map_value', 'released', 'NULL',
] as const;
export type StatePairState = (typeof STATE_PAIR_STATES)[number];

/** One (op × handle state × program type) combination. */
export interface StatePair {
  readonly op: StatePairOp;
  readonly state: StatePairState;
  readonly progType: ProgType;
}

/**
 * A pair of a kernel's vocabulary with the contract's word on it: `allowed`, or refused by `rule` (the first rule the
 * kernel checks that the state breaks). The generators take these as targets (generators/scenario.ts).
 */
export interface StatePairTarget extends StatePair {
  readonly allowed: boolean;
  /** the rule a forbidden pair breaks; null when allowed */
  readonly rule: string | null;
}

/** summary.json's `statePairCoverage`: a kernel's vocabulary, split by the contract's word, and how often each pair was reached. */
export interface StatePairCoverage {
  readonly allowed: { readonly total: number; readonly hit: number };
  readonly forbidden: { readonly total: number; readonly hit: number };
  /** every pair of the vocabulary, hit or not, in vocabulary order; `cases`: cases that reached it */
  readonly pairs: readonly (StatePair & { readonly allowed: boolean; readonly cases: number })[];
}

/** The text key of a pair (`xchg percpu_ptr_ tc`), for counting. */
export function statePairKey(p: StatePair): string {
  return `${p.op} ${p.state} ${p.progType}`;
}
