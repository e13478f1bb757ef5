import type { Slot } from '../../types/index.ts';
import type { Choices } from './Choices.ts';
import type { SequenceCommand } from './SequenceCommand.ts';
import type { SequenceState } from './SequenceState.ts';
import { enterRcu, freshRcu, freshRcuSection, freshUntrusted, leaveRcu, mapValue, publish, readField, writeField } from './sequenceOps.ts';

/**
 * One way to break one rule of /specs/rules (ids of kernel-semantics §2), spliced into a valid program at top level:
 * a command whose `run` writes the setup it needs (an owned object, an RCU pointer, ...), then the single offending
 * op, and leaves the state one the valid continuation can close without breaking anything else. The variants of a
 * rule that apply weigh the same: a break's `variant` number picks one of them.
 */
export type BreakVariant = SequenceCommand;

type Check = (st: SequenceState) => boolean;
type Run = (st: SequenceState, ch: Choices) => void;
const always = (): boolean => true;

function percpuSlots(st: SequenceState): Slot[] {
  return st.ctx.slots.filter((s) => s.tag === 'percpu_kptr' && st.mapValueOf(s.name) !== null && st.ctx.goodStructs.includes(s.pointee));
}
function kptrSlots(st: SequenceState): Slot[] {
  return st.ctx.slots.filter((s) => s.tag === 'kptr' && st.mapValueOf(s.name) !== null && st.ctx.goodStructs.includes(s.pointee));
}
const cgrpSlots = (st: SequenceState): Slot[] => st.ctx.slots.filter((s) => s.home.kind === 'cgrp_storage');
const hasPercpuSlot: Check = (st) => percpuSlots(st).length > 0;
const hasGood: Check = (st) => st.ctx.goodStructs.length > 0;
const good = (st: SequenceState, ch: Choices): string => ch.pickOf(st.ctx.goodStructs);
const pslot = (st: SequenceState, ch: Choices): Slot => ch.pickOf(percpuSlots(st));

/** The offending per_cpu_ptr/this_cpu_ptr; its result is never used. */
function badPerCpu(st: SequenceState, ch: Choices, src: string): void {
  st.unusable(st.perCpu(src, ch.pick(2) === 0 ? 0 : 'this'));
}
function deref(st: SequenceState, ch: Choices, v: string): void {
  if (ch.pick(2) === 0) writeField(st, ch, v);
  else readField(st, ch, v);
}

const v = (name: string, run: Run, check: Check = always): BreakVariant => ({ name, weight: 1, check, run });

/** Rules about the struct handed to bpf_percpu_obj_new: the scenario supplies a refused struct for each. */
export const NEW_STRUCT_RULES: readonly string[] = [
  'percpu_obj_new.size_limit', 'percpu_obj_new.not_scalars', 'percpu_obj_new.special_fields', 'percpu_obj_new.nested_special_field',
];

const VARIANTS: Readonly<Record<string, readonly BreakVariant[]>> = {
  'ref.leak': [
    v('new_unchecked', (st, ch) => st.leak(st.newObj(good(st, ch), true)), hasGood),
    v('new_checked', (st, ch) => st.leak(st.freshOwn(good(st, ch), true)), hasGood),
    v('xchg_result', (st, ch) => st.leak(st.xchg(pslot(st, ch).name, null) as string), hasPercpuSlot),
    v('xchg_discarded', (st, ch) => { st.xchg(pslot(st, ch).name, null, false); }, hasPercpuSlot),
    v('publish_discarding_old', (st, ch) => { const s = pslot(st, ch); st.xchg(s.name, st.freshOwn(s.pointee, true), false); }, hasPercpuSlot),
  ],
  'percpu_obj_drop.maybe_null': [
    v('new_unchecked', (st, ch) => st.drop(st.newObj(good(st, ch), true), true), hasGood),
    v('xchg_result', (st, ch) => st.drop(st.xchg(pslot(st, ch).name, null) as string, true), hasPercpuSlot),
    v('obj_new_unchecked', (st, ch) => st.drop(st.newObj(good(st, ch), false), false), hasGood),
  ],
  'percpu_obj_drop.unreferenced': [
    v('double_drop', (st, ch) => { const o = st.freshOwn(good(st, ch), true); st.drop(o, true); st.drop(o, true); }, hasGood),
    v('non_owning', (st, ch) => st.drop(freshRcu(st, pslot(st, ch).name), true), hasPercpuSlot),
    v('xchg_source', (st, ch) => {
      const s = pslot(st, ch);
      const o = st.freshOwn(s.pointee, true);
      publish(st, o, s.name);
      st.drop(o, true);
    }, hasPercpuSlot),
  ],
  'percpu_obj_drop.wrong_kind': [v('obj_new_object', (st, ch) => st.drop(st.freshOwn(good(st, ch), false), true), hasGood)],
  'obj_drop.wrong_kind': [v('percpu_object', (st, ch) => st.drop(st.freshOwn(good(st, ch), true), false), hasGood)],
  'kptr_xchg.type_mismatch': [
    v('other_struct', (st, ch) => {
      const s = pslot(st, ch);
      st.refusedXchg(s.name, st.freshOwn(ch.pickOf(st.ctx.goodStructs.filter((t) => t !== s.pointee)), true));
    }, (st) => hasPercpuSlot(st) && st.ctx.goodStructs.length > 1),
    v('percpu_into_kptr_slot', (st, ch) => {
      const s = ch.pickOf(kptrSlots(st));
      st.refusedXchg(s.name, st.freshOwn(s.pointee, true));
    }, (st) => kptrSlots(st).length > 0),
  ],
  'kptr_xchg.plain_into_percpu': [
    v('obj_new_object', (st, ch) => { const s = pslot(st, ch); st.refusedXchg(s.name, st.freshOwn(s.pointee, false)); }, hasPercpuSlot),
  ],
  'kptr_xchg.bad_src': [
    v('rcu_pointer', (st, ch) => { const s = pslot(st, ch); st.refusedXchg(s.name, freshRcu(st, s.name)); }, hasPercpuSlot),
    v('dropped_object', (st, ch) => {
      const s = pslot(st, ch);
      const o = st.freshOwn(s.pointee, true);
      st.drop(o, true);
      st.refusedXchg(s.name, o);
    }, hasPercpuSlot),
    v('map_value', (st, ch) => { const s = pslot(st, ch); st.refusedXchg(s.name, mapValue(st, s.name)); }, hasPercpuSlot),
  ],
  'kptr_xchg.rcu_src': [
    v('this_cpu_element', (st, ch) => { const s = pslot(st, ch); st.refusedXchg(s.name, st.perCpu(freshRcu(st, s.name), 'this')); }, hasPercpuSlot),
  ],
  // a sleepable program takes the cgroup of its task outside an RCU critical section (the scenario has a cgroup
  // storage slot and the program is sleepable: scenarioPlan shapes both)
  'local_storage.untrusted_owner': [
    v('sleepable_cgrp_lookup', (st, ch) => { leaveRcu(st); st.lookup(ch.pickOf(cgrpSlots(st)).name); }, (st) => st.sleepable && cgrpSlots(st).length > 0),
  ],
  'kptr.direct_store': [
    v('store_null', (st, ch) => st.store(pslot(st, ch).name, null), hasPercpuSlot),
    v('store_owned', (st, ch) => { const s = pslot(st, ch); st.store(s.name, st.freshOwn(s.pointee, true)); }, hasPercpuSlot),
  ],
  'percpu_ptr.bad_arg': [
    v('owned', (st, ch) => badPerCpu(st, ch, st.freshOwn(good(st, ch), true)), hasGood),
    v('owned_maybe_null', (st, ch) => badPerCpu(st, ch, st.newObj(good(st, ch), true)), hasGood),
    v('rcu_maybe_null', (st, ch) => { const s = pslot(st, ch); enterRcu(st); badPerCpu(st, ch, st.load(s.name)); }, hasPercpuSlot),
    v('dropped', (st, ch) => { const o = st.freshOwn(good(st, ch), true); st.drop(o, true); badPerCpu(st, ch, o); }, hasGood),
    v('map_value', (st, ch) => { const s = pslot(st, ch); badPerCpu(st, ch, mapValue(st, s.name)); }, hasPercpuSlot),
    v('obj_new_object', (st, ch) => badPerCpu(st, ch, st.freshOwn(good(st, ch), false)), hasGood),
    v('after_unlock', (st, ch) => {
      const r = freshRcuSection(st, pslot(st, ch).name);
      st.rcuUnlock();
      badPerCpu(st, ch, r);
    }, (st) => hasPercpuSlot(st) && !st.exitLocked),
    v('sleepable_load_without_rcu', (st, ch) => badPerCpu(st, ch, freshUntrusted(st, pslot(st, ch).name)),
      (st) => hasPercpuSlot(st) && st.sleepable && !st.exitLocked),
  ],
  'percpu.direct_deref': [
    v('rcu_pointer', (st, ch) => deref(st, ch, freshRcu(st, pslot(st, ch).name)), hasPercpuSlot),
    v('owned', (st, ch) => deref(st, ch, st.freshOwn(good(st, ch), true)), hasGood),
  ],
  'per_cpu_ptr.unchecked_result': [
    v('per_cpu_ptr_unchecked', (st, ch) => {
      const e = st.perCpu(freshRcu(st, pslot(st, ch).name), ch.pick(st.ctx.nrCpus));
      deref(st, ch, e);
      st.unusable(e);
    }, hasPercpuSlot),
  ],
  'mem.maybe_null_deref': [
    v('new_unchecked', (st, ch) => deref(st, ch, st.newObj(good(st, ch), true)), hasGood),
    v('load_unchecked', (st, ch) => { const s = pslot(st, ch); enterRcu(st); const r = st.load(s.name); deref(st, ch, r); st.unusable(r); }, hasPercpuSlot),
    v('obj_new_unchecked', (st, ch) => deref(st, ch, st.newObj(good(st, ch), false)), hasGood),
  ],
  'mem.untrusted_write': [
    v('element_after_unlock', (st, ch) => {
      const r = freshRcuSection(st, pslot(st, ch).name);
      const e = st.perCpu(r, ch.pick(2) === 0 ? 0 : 'this');
      st.nullExit(e);
      st.rcuUnlock();
      writeField(st, ch, e);
      st.unusable(e);
    }, (st) => hasPercpuSlot(st) && !st.exitLocked),
    v('kptr_loaded_outside_rcu', (st, ch) => {
      const r = freshUntrusted(st, ch.pickOf(kptrSlots(st)).name);
      writeField(st, ch, r);
      st.unusable(r);
    }, (st) => kptrSlots(st).length > 0 && st.sleepable && !st.exitLocked),
  ],
  'mem.scalar_deref': [
    v('after_drop', (st, ch) => { const pc = ch.pick(2) === 0; const o = st.freshOwn(good(st, ch), pc); st.drop(o, pc); deref(st, ch, o); }, hasGood),
    v('xchg_source_outside_rcu', (st, ch) => {
      const s = pslot(st, ch);
      leaveRcu(st);
      const o = st.freshOwn(s.pointee, true);
      publish(st, o, s.name);
      deref(st, ch, o);
    }, (st) => hasPercpuSlot(st) && st.sleepable && !st.exitLocked),
  ],
  'rcu.nested_lock': [
    v('lock_twice', (st, ch) => {
      if (st.rcuDepth === 0) st.rcuLock();
      st.rcuLock();
      const slots = percpuSlots(st);
      if (slots.length > 0 && ch.pick(2) === 0) {
        const r = st.load(ch.pickOf(slots).name);
        st.nullExit(r);
        writeField(st, ch, st.perCpu(r, 'this'));
      }
      st.rcuUnlock();
    }, (st) => st.rcuDepth <= 1 && !st.exitLocked),
  ],
  'rcu.unmatched_unlock': [
    v('unlock_unlocked', (st, ch) => {
      leaveRcu(st);
      if (ch.pick(2) === 0) { st.rcuLock(); st.rcuUnlock(); }
      st.unmatchedRcuUnlock();
    }, (st) => !st.exitLocked),
  ],
  'rcu.exit_locked': [
    v('no_unlock', (st) => {
      if (st.rcuDepth === 0) st.rcuLock();
      st.exitWithRcuLock();
    }, (st) => !st.exitLocked),
  ],
  'kfunc.non_gpl': [
    v('proprietary', (st, ch) => { st.relicense('Proprietary'); st.drop(st.freshOwn(good(st, ch), true), true); }, hasGood),
  ],
  // a non-GPL program whose only calls are its slots' lookups: a task storage lookup's bpf_get_current_task_btf is
  // gpl_only (a kfunc anywhere in the program would be refused first, kfunc.non_gpl); scenarioPlan puts the break
  // first and adds the task storage slot
  'helper.gpl_only': [
    v('proprietary_storage', (st, ch) => { st.relicense('Proprietary'); ch.halt(); },
      (st) => st.onlyLookups() && st.ctx.slots.some((s) => s.home.kind === 'task_storage' && st.mapValueOf(s.name) !== null)),
  ],
  ...Object.fromEntries(NEW_STRUCT_RULES.map((rule) => [rule, [
    v('new_then_drop', (st) => st.drop(st.freshOwn(st.ctx.badStructs[rule] as string, true), true), (st) => st.ctx.badStructs[rule] !== undefined),
  ]])),
};

/** The rule ids {@link breakVariants} knows (every id of the rule table but the kernel-side kfunc.absent, kfunc.prog_type, attach.not_sleepable and local_storage.prog_type). */
export const BREAKABLE_RULES: readonly string[] = Object.keys(VARIANTS);

/** Ways to break `rule`; throws for a rule the generators cannot break from inside a program. */
export function breakVariants(rule: string): readonly BreakVariant[] {
  const vs = VARIANTS[rule];
  if (vs === undefined) throw new Error(`breakVariants: no way to break rule ${rule} (known: ${BREAKABLE_RULES.join(', ')})`);
  return vs;
}
