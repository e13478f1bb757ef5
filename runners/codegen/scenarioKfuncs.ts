import type { Op, Scenario } from '../../types/index.ts';

/** Adds the `__ksym` externs of kptr.h that the C emitted for `ops` calls (emitProgram.ts; bpf_for is the num iterator). */
function addExterns(ops: readonly Op[], out: Set<string>): void {
  for (const op of ops) {
    switch (op.op) {
      case 'new':
        out.add(op.percpu ? 'bpf_percpu_obj_new_impl' : 'bpf_obj_new_impl');
        break;
      case 'drop':
        out.add(op.percpu ? 'bpf_percpu_obj_drop_impl' : 'bpf_obj_drop_impl');
        break;
      case 'rcu_lock':
        out.add('bpf_rcu_read_lock');
        break;
      case 'rcu_unlock':
        out.add('bpf_rcu_read_unlock');
        break;
      case 'sum':
        out.add('bpf_iter_num_destroy').add('bpf_iter_num_new').add('bpf_iter_num_next');
        break;
      case 'if':
        addExterns(op.then, out);
        break;
      default:
        break;
    }
  }
}

/**
 * Every kfunc a scenario's generated C calls, name-sorted and without repeats (the harness's `kfuncs` plan line).
 * Loops into one Set rather than flatMap: every runner asks this of every scenario.
 */
export function scenarioKfuncs(s: Scenario): string[] {
  const out = new Set<string>();
  for (const p of s.programs) addExterns(p.ops, out);
  return [...out].sort();
}
