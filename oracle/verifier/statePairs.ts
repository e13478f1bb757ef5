import type { Op, StatePairOp, StatePairState } from '../../types/index.ts';
import { STATE_PAIR_OPS, STATE_PAIR_STATES } from '../../types/index.ts';
import {
  DEREF_CHECKS, DROP_CHECKS, firstViolation, PERCPU_PTR_CHECKS, type RuleHit, XCHG_CHECKS,
} from './rules.ts';
import { type Handle, handleOf, NULL_HANDLE, type PathState } from './state.ts';

/** The handle state a pair names (kernel words, types/statePair.ts); null for a state no pair counts (never assigned, maybe-NULL map value). */
export function pairStateOf(h: Handle): StatePairState | null {
  switch (h.s) {
    case 'OWN?': return 'percpu_ptr_or_null_';
    case 'OWN': return 'percpu_ptr_';
    case 'PLAIN_OWN?': return 'ptr_or_null_';
    case 'PLAIN_OWN': return 'ptr_';
    case 'RCU?': return 'percpu_rcu_ptr_or_null_';
    case 'RCU': return 'percpu_rcu_ptr_';
    case 'ELEM?': return 'rcu_ptr_or_null_';
    case 'ELEM': return 'rcu_ptr_';
    case 'UNTR_PCPU': return 'percpu_untrusted_ptr_';
    case 'UNTR_RAW?': return 'untrusted_ptr_or_null_';
    case 'UNTR_RAW': case 'UNTR_ELEM': return 'untrusted_ptr_';
    case 'MAP_VALUE': return 'map_value';
    case 'DEAD': return 'released';
    case 'NULL': return 'NULL';
    case 'UNINIT': case 'MAP_VALUE?': return null;
  }
}

type PlainOp = Exclude<Op, { op: 'if' } | { op: 'return' }>;

/** A pair the walk reaches: one object per (op, state), so that a walk collects them by identity. */
export interface ReachedPair { readonly op: StatePairOp; readonly state: StatePairState }

const PAIRS = Object.fromEntries(STATE_PAIR_OPS.map((op) => [op, Object.fromEntries(STATE_PAIR_STATES.map((state) => [state, { op, state }]))])) as
  Readonly<Record<StatePairOp, Readonly<Record<StatePairState, ReachedPair>>>>;

/** `op` taking a pointer `h`, or null when h's state counts for no pair. */
function at(op: StatePairOp, h: Handle): ReachedPair | null {
  const s = pairStateOf(h);
  return s === null ? null : PAIRS[op][s];
}

/**
 * The pair an op reaches in this state: the op and the state of the pointer it takes; null for ops that take none.
 * Asked at every explored instruction: no closure per call (tsx names each one, Object.defineProperty).
 */
export function pairOf(o: PlainOp, state: PathState): ReachedPair | null {
  switch (o.op) {
    case 'xchg': return at('xchg', o.src === null ? NULL_HANDLE : handleOf(state, o.src));
    case 'drop': return at(o.percpu ? 'percpu_obj_drop' : 'obj_drop', handleOf(state, o.var));
    case 'per_cpu_ptr': case 'this_cpu_ptr': return at(o.op, handleOf(state, o.src));
    // the loop body, where bpf_per_cpu_ptr takes src, is verified after the rest of the program (transfer.ts)
    case 'sum': return state.inSumBody ? at(o.op, handleOf(state, o.src)) : null;
    case 'read': case 'write': return at(o.op, handleOf(state, o.ptr));
    default: return null;
  }
}

/** A handle of each pair state, as the rule checks see it (one struct `t`; an element as bpf_per_cpu_ptr returns it). */
const REPRESENTATIVE: Readonly<Record<StatePairState, Handle>> = {
  percpu_ptr_or_null_: { s: 'OWN?', struct: 't', ref: 1, slot: null },
  percpu_ptr_: { s: 'OWN', struct: 't', ref: 1, slot: null },
  ptr_or_null_: { s: 'PLAIN_OWN?', struct: 't', ref: 1, slot: null },
  ptr_: { s: 'PLAIN_OWN', struct: 't', ref: 1, slot: null },
  percpu_rcu_ptr_or_null_: { s: 'RCU?', struct: 't', ref: 0, slot: null },
  percpu_rcu_ptr_: { s: 'RCU', struct: 't', ref: 0, slot: null },
  rcu_ptr_or_null_: { s: 'ELEM?', struct: 't', ref: 0, slot: null, perCpuResult: true },
  rcu_ptr_: { s: 'ELEM', struct: 't', ref: 0, slot: null },
  percpu_untrusted_ptr_: { s: 'UNTR_PCPU', struct: 't', ref: 0, slot: null },
  untrusted_ptr_or_null_: { s: 'UNTR_RAW?', struct: 't', ref: 0, slot: null },
  untrusted_ptr_: { s: 'UNTR_RAW', struct: 't', ref: 0, slot: null },
  map_value: { s: 'MAP_VALUE', struct: null, ref: 0, slot: 'm' },
  released: { s: 'DEAD', struct: null, ref: 0, slot: null },
  NULL: NULL_HANDLE,
};

/**
 * The contract's word on a pair: null when the op takes a pointer in this state (for bpf_kptr_xchg: into a field of
 * its own kind and struct), else the first rule the state breaks. The same check lists the walk applies decide it,
 * so the pair vocabulary and the predictions cannot disagree.
 */
export function pairVerdict(op: StatePairOp, state: StatePairState, applies: (rule: string) => boolean): RuleHit | null {
  const h = REPRESENTATIVE[state];
  switch (op) {
    case 'xchg': {
      const into = (tag: 'percpu_kptr' | 'kptr'): RuleHit | null => firstViolation(XCHG_CHECKS, {
        src: h, slot: { name: 'm', home: { kind: 'map', mapType: 'array' }, pointee: 't', tag }, isKptrField: true,
      }, applies);
      const percpu = into('percpu_kptr');
      return percpu === null || into('kptr') === null ? null : percpu;
    }
    case 'percpu_obj_drop': case 'obj_drop': {
      const percpu = op === 'percpu_obj_drop';
      return firstViolation(DROP_CHECKS, { h, percpu, kfunc: percpu ? 'bpf_percpu_obj_drop_impl' : 'bpf_obj_drop_impl' }, applies);
    }
    case 'per_cpu_ptr': case 'this_cpu_ptr': case 'sum':
      return firstViolation(PERCPU_PTR_CHECKS, { h }, applies);
    case 'read': case 'write':
      return firstViolation(DEREF_CHECKS, { h, off: 0, write: op === 'write' }, applies);
  }
}
