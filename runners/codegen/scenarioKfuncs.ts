import type { Op, Scenario } from '../../types/index.ts';

/** The `__ksym` externs of kptr.h that the C emitted for an op calls (emitProgram.ts; bpf_for is the num iterator). */
function externsOf(op: Op): readonly string[] {
  switch (op.op) {
    case 'new':
      return [op.percpu ? 'bpf_percpu_obj_new_impl' : 'bpf_obj_new_impl'];
    case 'drop':
      return [op.percpu ? 'bpf_percpu_obj_drop_impl' : 'bpf_obj_drop_impl'];
    case 'rcu_lock':
      return ['bpf_rcu_read_lock'];
    case 'rcu_unlock':
      return ['bpf_rcu_read_unlock'];
    case 'sum':
      return ['bpf_iter_num_destroy', 'bpf_iter_num_new', 'bpf_iter_num_next'];
    case 'if':
      return op.then.flatMap(externsOf);
    default:
      return [];
  }
}

/** Every kfunc a scenario's generated C calls, name-sorted and without repeats (the harness's `kfuncs` plan line). */
export function scenarioKfuncs(s: Scenario): string[] {
  return [...new Set(s.programs.flatMap((p) => p.ops.flatMap(externsOf)))].sort();
}
