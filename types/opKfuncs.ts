import type { Op } from './scenario.ts';
import type { FeatureName } from './spec.ts';

/** The kfuncs one op's code calls, in the order it calls them, and the kernel feature that provides them. */
export interface OpKfuncs {
  readonly names: readonly string[];
  readonly feature: FeatureName;
}

const PERCPU_NEW: OpKfuncs = { names: ['bpf_percpu_obj_new_impl'], feature: 'percpu_kptr' };
const OBJ_NEW: OpKfuncs = { names: ['bpf_obj_new_impl'], feature: 'obj_new' };
const PERCPU_DROP: OpKfuncs = { names: ['bpf_percpu_obj_drop_impl'], feature: 'percpu_kptr' };
const OBJ_DROP: OpKfuncs = { names: ['bpf_obj_drop_impl'], feature: 'obj_new' };
const RCU_LOCK: OpKfuncs = { names: ['bpf_rcu_read_lock'], feature: 'rcu_kfuncs' };
const RCU_UNLOCK: OpKfuncs = { names: ['bpf_rcu_read_unlock'], feature: 'rcu_kfuncs' };
/** a sum is a bpf_for loop over the num iterator */
const NUM_ITER: OpKfuncs = { names: ['bpf_iter_num_new', 'bpf_iter_num_next', 'bpf_iter_num_destroy'], feature: 'bpf_for' };

/**
 * The kfuncs `o` itself calls (kptr.h's `__ksym` externs; an `if`'s nested ops not included), or null for an op that
 * calls only helpers or none. One home for the generated C, the direct writer, the harness's `kfuncs` line, the
 * emulator runner and the oracle.
 */
export function opKfuncs(o: Op): OpKfuncs | null {
  switch (o.op) {
    case 'new': return o.percpu ? PERCPU_NEW : OBJ_NEW;
    case 'drop': return o.percpu ? PERCPU_DROP : OBJ_DROP;
    case 'rcu_lock': return RCU_LOCK;
    case 'rcu_unlock': return RCU_UNLOCK;
    case 'sum': return NUM_ITER;
    default: return null;
  }
}
