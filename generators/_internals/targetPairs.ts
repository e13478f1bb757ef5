import type { Slot, StatePair, StatePairState } from '../../types/index.ts';
import { badXchg, enterRcu, freshRcu, freshRcuSection, leaveRcu, mapValue } from './breakVariants.ts';
import type { ProgramBuilder } from './ProgramBuilder.ts';

const PLAIN_STATES: ReadonlySet<StatePairState> = new Set(['ptr_or_null_', 'ptr_']);
const OWNED_STATES: ReadonlySet<StatePairState> = new Set(['percpu_ptr_or_null_', 'percpu_ptr_', 'ptr_or_null_', 'ptr_']);

/** Whether reaching `t` needs a plain `__kptr` slot (an owned bpf_obj_new object exchanged into a field of its kind). */
export function targetNeedsKptrSlot(t: StatePair): boolean {
  return t.op === 'xchg' && PLAIN_STATES.has(t.state);
}

function percpuSlot(b: ProgramBuilder): Slot {
  const s = b.ctx.slots.find((x) => x.tag === 'percpu_kptr' && b.validLookup(x));
  if (s === undefined) throw new Error('targetPairs: the scenario has no __percpu_kptr slot');
  return s;
}

/** The slot an op on a pointer of this state goes to: a plain object's own kind of field when there is one. */
function slotFor(b: ProgramBuilder, state: StatePairState): Slot {
  // a slot this program may look up (not a sleepable program's cgroup storage)
  const plain = b.ctx.slots.find((x) => x.tag === 'kptr' && b.validLookup(x));
  return PLAIN_STATES.has(state) && plain !== undefined ? plain : percpuSlot(b);
}

/** A variable in `state` (the program type decides what is reachable: the vocabulary only names reachable pairs). */
function subject(b: ProgramBuilder, t: StatePair): string {
  const slot = slotFor(b, t.state);
  const percpu = t.op !== 'obj_drop';
  switch (t.state) {
    case 'percpu_ptr_or_null_': return b.newObj(slot.pointee, true);
    case 'percpu_ptr_': return b.freshOwn(slot.pointee, true);
    case 'ptr_or_null_': return b.newObj(slot.pointee, false);
    case 'ptr_': return b.freshOwn(slot.pointee, false);
    case 'percpu_rcu_ptr_or_null_': enterRcu(b); return b.load(slot.name);
    case 'percpu_rcu_ptr_': return freshRcu(b, slot.name);
    case 'rcu_ptr_or_null_': return b.perCpu(freshRcu(b, slot.name), b.pick(b.ctx.nrCpus));
    case 'rcu_ptr_': return b.perCpu(freshRcu(b, slot.name), 'this');
    case 'percpu_untrusted_ptr_': {
      const r = freshRcuSection(b, slot.name);
      b.rcuUnlock();
      return r;
    }
    case 'untrusted_ptr_or_null_': leaveRcu(b); return b.load(slot.name);
    case 'untrusted_ptr_': {
      if (b.st.sleepable && b.pick(2) === 0) {
        leaveRcu(b);
        const r = b.load(slot.name);
        b.nullExit(r);
        return r;
      }
      const e = b.perCpu(freshRcuSection(b, slot.name), 'this');
      b.rcuUnlock();
      return e;
    }
    case 'map_value': return mapValue(b, slot.name);
    case 'released': {
      const o = b.freshOwn(slot.pointee, percpu);
      b.drop(o, percpu);
      return o;
    }
    case 'NULL': return b.newObj(slot.pointee, percpu);
  }
}

/** The targeted op on `v`; an allowed one leaves the model as the valid steps expect it. */
function apply(b: ProgramBuilder, t: StatePair & { readonly allowed: boolean }, v: string | null): void {
  switch (t.op) {
    case 'xchg': {
      const slot = slotFor(b, t.state).name;
      if (v !== null && !t.allowed) return badXchg(b, slot, v);
      const old = b.xchg(slot, v);
      if (old !== null) b.release(old);
      return;
    }
    case 'percpu_obj_drop': case 'obj_drop': return b.drop(v as string, t.op === 'percpu_obj_drop');
    case 'per_cpu_ptr': case 'this_cpu_ptr': {
      const e = b.perCpu(v as string, t.op === 'this_cpu_ptr' ? 'this' : b.pick(b.ctx.nrCpus));
      // a refused call's result is never used
      if (!t.allowed) b.st.handle(e).state = 'joined';
      return;
    }
    case 'sum': return b.sum(v as string);
    case 'read': return b.read(v as string);
    case 'write': return b.write(v as string);
  }
}

/**
 * Emit ops that bring a variable into the target's handle state, then the target's op on it (issue 11 item 6). A
 * forbidden pair is the program's one break; the kernel stops there. `NULL`: bpf_kptr_xchg takes a literal NULL, any
 * other op runs in the NULL branch of a fresh object's check (`if (!v) { op(v); return 0; }`).
 */
export function reachPair(b: ProgramBuilder, t: StatePair & { readonly allowed: boolean }): void {
  if (t.state === 'NULL' && t.op === 'xchg') return apply(b, t, null);
  const v = subject(b, t);
  if (t.state === 'NULL') return b.nullBranch(v, () => apply(b, t, v));
  apply(b, t, v);
  // what a refused op leaves behind is not for the valid steps that follow
  if (!t.allowed && !OWNED_STATES.has(t.state)) b.st.handle(v).state = 'joined';
}
