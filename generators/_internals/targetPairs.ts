import type { Slot, StatePair, StatePairState } from '../../types/index.ts';
import type { Choices } from './Choices.ts';
import type { SequenceState } from './SequenceState.ts';
import { enterRcu, freshRcu, freshRcuSection, freshUntrusted, leaveRcu, mapValue, readField, sumField, writeField } from './sequenceOps.ts';

const PLAIN_STATES: ReadonlySet<StatePairState> = new Set(['ptr_or_null_', 'ptr_']);
const OWNED_STATES: ReadonlySet<StatePairState> = new Set(['percpu_ptr_or_null_', 'percpu_ptr_', 'ptr_or_null_', 'ptr_']);

/** Whether reaching `t` needs a plain `__kptr` slot (an owned bpf_obj_new object exchanged into a field of its kind). */
export function targetNeedsKptrSlot(t: StatePair): boolean {
  return t.op === 'xchg' && PLAIN_STATES.has(t.state);
}

function percpuSlot(st: SequenceState): Slot {
  const s = st.ctx.slots.find((x) => x.tag === 'percpu_kptr' && st.validLookup(x));
  if (s === undefined) throw new Error('targetPairs: the scenario has no __percpu_kptr slot');
  return s;
}

/** The slot an op on a pointer of this state goes to: a plain object's own kind of field when there is one. */
function slotFor(st: SequenceState, state: StatePairState): Slot {
  // a slot this program may look up (not a sleepable program's cgroup storage)
  const plain = st.ctx.slots.find((x) => x.tag === 'kptr' && st.validLookup(x));
  return PLAIN_STATES.has(state) && plain !== undefined ? plain : percpuSlot(st);
}

/** A variable in `state` (the program type decides what is reachable: the vocabulary only names reachable pairs). */
function subject(st: SequenceState, ch: Choices, t: StatePair): string {
  const slot = slotFor(st, t.state);
  const percpu = t.op !== 'obj_drop';
  switch (t.state) {
    case 'percpu_ptr_or_null_': return st.newObj(slot.pointee, true);
    case 'percpu_ptr_': return st.freshOwn(slot.pointee, true);
    case 'ptr_or_null_': return st.newObj(slot.pointee, false);
    case 'ptr_': return st.freshOwn(slot.pointee, false);
    case 'percpu_rcu_ptr_or_null_': enterRcu(st); return st.load(slot.name);
    case 'percpu_rcu_ptr_': return freshRcu(st, slot.name);
    case 'rcu_ptr_or_null_': return st.perCpu(freshRcu(st, slot.name), ch.pick(st.ctx.nrCpus));
    case 'rcu_ptr_': return st.perCpu(freshRcu(st, slot.name), 'this');
    case 'percpu_untrusted_ptr_': {
      const r = freshRcuSection(st, slot.name);
      st.rcuUnlock();
      return r;
    }
    case 'untrusted_ptr_or_null_': leaveRcu(st); return st.load(slot.name);
    case 'untrusted_ptr_': {
      if (st.sleepable && ch.pick(2) === 0) return freshUntrusted(st, slot.name);
      const e = st.perCpu(freshRcuSection(st, slot.name), 'this');
      st.rcuUnlock();
      return e;
    }
    case 'map_value': return mapValue(st, slot.name);
    case 'released': {
      const o = st.freshOwn(slot.pointee, percpu);
      st.drop(o, percpu);
      return o;
    }
    case 'NULL': return st.newObj(slot.pointee, percpu);
  }
}

/** The targeted op on `v`; an allowed one leaves the model as the valid steps expect it. */
function apply(st: SequenceState, ch: Choices, t: StatePair & { readonly allowed: boolean }, v: string | null): void {
  switch (t.op) {
    case 'xchg': {
      const slot = slotFor(st, t.state).name;
      if (v !== null && !t.allowed) return st.refusedXchg(slot, v);
      const old = st.xchg(slot, v);
      if (old !== null) st.release(old);
      return;
    }
    case 'percpu_obj_drop': case 'obj_drop': return st.drop(v as string, t.op === 'percpu_obj_drop');
    case 'per_cpu_ptr': case 'this_cpu_ptr': {
      const e = st.perCpu(v as string, t.op === 'this_cpu_ptr' ? 'this' : ch.pick(st.ctx.nrCpus));
      // a refused call's result is never used
      if (!t.allowed) st.unusable(e);
      return;
    }
    case 'sum': return sumField(st, ch, v as string);
    case 'read': return readField(st, ch, v as string);
    case 'write': return writeField(st, ch, v as string);
  }
}

/**
 * Emit ops that bring a variable into the target's handle state, then the target's op on it (issue 11 item 6). A
 * forbidden pair is the program's one break; the kernel stops there. `NULL`: bpf_kptr_xchg takes a literal NULL, any
 * other op runs in the NULL branch of a fresh object's check (`if (!v) { op(v); return 0; }`).
 */
export function reachPair(st: SequenceState, ch: Choices, t: StatePair & { readonly allowed: boolean }): void {
  if (t.state === 'NULL' && t.op === 'xchg') return apply(st, ch, t, null);
  const v = subject(st, ch, t);
  if (t.state === 'NULL') return st.nullBranch(v, () => apply(st, ch, t, v));
  apply(st, ch, t, v);
  // what a refused op leaves behind is not for the valid steps that follow
  if (!t.allowed && !OWNED_STATES.has(t.state)) st.unusable(v);
}
