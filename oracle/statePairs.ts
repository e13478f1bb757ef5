import type { KernelTarget, ProgType, Spec, StatePairOp, StatePairState, StatePairTarget } from '../types/index.ts';
import { isSleepable, STATE_PAIR_OPS, STATE_PAIR_STATES } from '../types/index.ts';
import { kernelFeatures } from '../specs/versionRange.ts';
import { ruleBook } from './ruleBook.ts';
import { pairVerdict } from './verifier/statePairs.ts';

/**
 * Every (op × handle state × program type) pair a program can reach on this kernel, with the contract's word on
 * each (oracle/verifier/statePairs.ts). Left out is what no program reaches there: everything without per-CPU kptrs,
 * fentry.s where bpf_fentry_test1 takes no sleepable program, bpf_obj_new objects and bpf_for where the kernel lacks
 * them, a load outside an RCU critical section in a non-sleepable program (there is none), and untrusted pointers
 * after bpf_rcu_read_unlock in a non-sleepable program on a kernel where the unlock leaves them trusted, and a map
 * value's fields (a scenario names only a kptr struct's).
 */
export function statePairVocabulary(spec: Spec, kernel: Pick<KernelTarget, 'version' | 'divergences'>, progTypes: readonly ProgType[]): StatePairTarget[] {
  const { features } = kernelFeatures(spec, kernel.version);
  if (!features.percpu_kptr) return [];
  const book = ruleBook(spec, kernel);
  const reachable = (op: StatePairOp, state: StatePairState, progType: ProgType): boolean => {
    const sleepable = isSleepable(progType);
    switch (state) {
      // a scenario's field paths name members of a kptr's struct: it has no words for a map value's own fields
      case 'map_value': return op !== 'read' && op !== 'write' && op !== 'sum';
      case 'ptr_or_null_': case 'ptr_': return features.obj_new;
      case 'untrusted_ptr_or_null_': return sleepable;
      case 'untrusted_ptr_': case 'percpu_untrusted_ptr_': return sleepable || !features.unlock_keeps_implicit_rcu;
      default: return true;
    }
  };
  const out: StatePairTarget[] = [];
  for (const progType of progTypes) {
    if (progType === 'fentry.s' && !features.sleepable_fentry_test1) continue;
    for (const op of STATE_PAIR_OPS) {
      if ((op === 'sum' && !features.bpf_for) || (op === 'obj_drop' && !features.obj_new)) continue;
      for (const state of STATE_PAIR_STATES) {
        if (!reachable(op, state, progType)) continue;
        const hit = pairVerdict(op, state, book.applies);
        out.push({ op, state, progType, allowed: hit === null, rule: hit?.ruleId ?? null });
      }
    }
  }
  return out;
}
