import type { Slot } from '../../types/index.ts';
import type { ProgramBuilder } from './ProgramBuilder.ts';

/**
 * One way to break one rule of /specs/rules (ids of kernel-semantics §2), spliced into a valid program at top level.
 * `run` emits the setup it needs (an owned object, an RCU pointer, ...), then the single offending op, then leaves
 * the model in a state the valid continuation can close without breaking anything else.
 */
export interface BreakVariant {
  readonly name: string;
  applies(b: ProgramBuilder): boolean;
  run(b: ProgramBuilder): void;
}

type Run = (b: ProgramBuilder) => void;
const always = (): boolean => true;

function percpuSlots(b: ProgramBuilder): Slot[] {
  return b.ctx.slots.filter((s) => s.tag === 'percpu_kptr' && b.st.mapValueOf(s.name) !== null && b.ctx.goodStructs.includes(s.pointee));
}
function kptrSlots(b: ProgramBuilder): Slot[] {
  return b.ctx.slots.filter((s) => s.tag === 'kptr' && b.st.mapValueOf(s.name) !== null && b.ctx.goodStructs.includes(s.pointee));
}
const cgrpSlots = (b: ProgramBuilder): Slot[] => b.ctx.slots.filter((s) => s.home.kind === 'cgrp_storage');
const hasPercpuSlot = (b: ProgramBuilder): boolean => percpuSlots(b).length > 0;
const hasGood = (b: ProgramBuilder): boolean => b.ctx.goodStructs.length > 0;
const good = (b: ProgramBuilder): string => b.pickOf(b.ctx.goodStructs);
const pslot = (b: ProgramBuilder): Slot => b.pickOf(percpuSlots(b));
export const mapValue = (b: ProgramBuilder, slot: string): string => b.st.mapValueOf(slot) ?? b.lookup(slot);

/** Make sure the next op runs inside an RCU critical section. */
export function enterRcu(b: ProgramBuilder): void {
  if (!b.st.inRcu()) b.rcuLock();
}
/** Close the (balanced) rcu section the valid prefix may have left open. */
export function leaveRcu(b: ProgramBuilder): void {
  while (b.st.rcuDepth > 0 && !b.st.exitLocked) b.rcuUnlock();
}
/** load + NULL check in an RCU CS: a non-owning per-CPU pointer (state RCU). */
export function freshRcu(b: ProgramBuilder, slot: string): string {
  enterRcu(b);
  const r = b.load(slot);
  b.nullExit(r);
  return r;
}
/** Like freshRcu, in an RCU section of its own: any open one is closed first, the new one stays open. */
export function freshRcuSection(b: ProgramBuilder, slot: string): string {
  leaveRcu(b);
  b.rcuLock();
  const r = b.load(slot);
  b.nullExit(r);
  return r;
}
/** The offending xchg; its source is treated as gone afterwards (a map value stays a map value). */
export function badXchg(b: ProgramBuilder, slot: string, src: string): void {
  const prev = b.st.handle(src).state;
  const old = b.xchg(slot, src);
  b.st.handle(src).state = prev === 'mapval' ? 'mapval' : 'dead';
  if (old !== null) b.release(old);
}
/** The offending per_cpu_ptr/this_cpu_ptr; its result is never used. */
function badPerCpu(b: ProgramBuilder, src: string): void {
  const dst = b.perCpu(src, b.pick(2) === 0 ? 0 : 'this');
  b.st.handle(dst).state = 'joined';
}
function deref(b: ProgramBuilder, v: string): void {
  if (b.pick(2) === 0) b.write(v);
  else b.read(v);
}

const v = (name: string, run: Run, applies: (b: ProgramBuilder) => boolean = always): BreakVariant => ({ name, run, applies });

/** Rules about the struct handed to bpf_percpu_obj_new: the scenario supplies a refused struct for each. */
export const NEW_STRUCT_RULES: readonly string[] = [
  'percpu_obj_new.size_limit', 'percpu_obj_new.not_scalars', 'percpu_obj_new.special_fields', 'percpu_obj_new.nested_special_field',
];

const VARIANTS: Readonly<Record<string, readonly BreakVariant[]>> = {
  'ref.leak': [
    v('new_unchecked', (b) => { b.st.handle(b.newObj(good(b), true)).leak = true; }, hasGood),
    v('new_checked', (b) => { b.st.handle(b.freshOwn(good(b), true)).leak = true; }, hasGood),
    v('xchg_result', (b) => { b.st.handle(b.xchg(pslot(b).name, null) as string).leak = true; }, hasPercpuSlot),
    v('xchg_discarded', (b) => { b.xchg(pslot(b).name, null, false); }, hasPercpuSlot),
    v('publish_discarding_old', (b) => { const s = pslot(b); b.xchg(s.name, b.freshOwn(s.pointee, true), false); }, hasPercpuSlot),
  ],
  'percpu_obj_drop.maybe_null': [
    v('new_unchecked', (b) => b.drop(b.newObj(good(b), true), true), hasGood),
    v('xchg_result', (b) => b.drop(b.xchg(pslot(b).name, null) as string, true), hasPercpuSlot),
    v('obj_new_unchecked', (b) => b.drop(b.newObj(good(b), false), false), hasGood),
  ],
  'percpu_obj_drop.unreferenced': [
    v('double_drop', (b) => { const o = b.freshOwn(good(b), true); b.drop(o, true); b.drop(o, true); }, hasGood),
    v('non_owning', (b) => b.drop(freshRcu(b, pslot(b).name), true), hasPercpuSlot),
    v('xchg_source', (b) => {
      const s = pslot(b);
      const o = b.freshOwn(s.pointee, true);
      const old = b.xchg(s.name, o);
      if (old !== null) b.release(old);
      b.drop(o, true);
    }, hasPercpuSlot),
  ],
  'percpu_obj_drop.wrong_kind': [v('obj_new_object', (b) => b.drop(b.freshOwn(good(b), false), true), hasGood)],
  'obj_drop.wrong_kind': [v('percpu_object', (b) => b.drop(b.freshOwn(good(b), true), false), hasGood)],
  'kptr_xchg.type_mismatch': [
    v('other_struct', (b) => {
      const s = pslot(b);
      badXchg(b, s.name, b.freshOwn(b.pickOf(b.ctx.goodStructs.filter((t) => t !== s.pointee)), true));
    }, (b) => hasPercpuSlot(b) && b.ctx.goodStructs.length > 1),
    v('percpu_into_kptr_slot', (b) => {
      const s = b.pickOf(kptrSlots(b));
      badXchg(b, s.name, b.freshOwn(s.pointee, true));
    }, (b) => kptrSlots(b).length > 0),
  ],
  'kptr_xchg.plain_into_percpu': [
    v('obj_new_object', (b) => { const s = pslot(b); badXchg(b, s.name, b.freshOwn(s.pointee, false)); }, hasPercpuSlot),
  ],
  'kptr_xchg.bad_src': [
    v('rcu_pointer', (b) => { const s = pslot(b); badXchg(b, s.name, freshRcu(b, s.name)); }, hasPercpuSlot),
    v('dropped_object', (b) => {
      const s = pslot(b);
      const o = b.freshOwn(s.pointee, true);
      b.drop(o, true);
      badXchg(b, s.name, o);
    }, hasPercpuSlot),
    v('map_value', (b) => { const s = pslot(b); badXchg(b, s.name, mapValue(b, s.name)); }, hasPercpuSlot),
  ],
  'kptr_xchg.rcu_src': [
    v('this_cpu_element', (b) => { const s = pslot(b); badXchg(b, s.name, b.perCpu(freshRcu(b, s.name), 'this')); }, hasPercpuSlot),
  ],
  // a sleepable program takes the cgroup of its task outside an RCU critical section (the scenario has a cgroup
  // storage slot and the program is sleepable: scenarioPlan shapes both)
  'local_storage.untrusted_owner': [
    v('sleepable_cgrp_lookup', (b) => { leaveRcu(b); b.lookup(b.pickOf(cgrpSlots(b)).name); }, (b) => b.st.sleepable && cgrpSlots(b).length > 0),
  ],
  'kptr.direct_store': [
    v('store_null', (b) => b.emit({ op: 'store', slot: pslot(b).name, src: null }), hasPercpuSlot),
    v('store_owned', (b) => { const s = pslot(b); b.emit({ op: 'store', slot: s.name, src: b.freshOwn(s.pointee, true) }); }, hasPercpuSlot),
  ],
  'percpu_ptr.bad_arg': [
    v('owned', (b) => badPerCpu(b, b.freshOwn(good(b), true)), hasGood),
    v('owned_maybe_null', (b) => badPerCpu(b, b.newObj(good(b), true)), hasGood),
    v('rcu_maybe_null', (b) => { const s = pslot(b); enterRcu(b); badPerCpu(b, b.load(s.name)); }, hasPercpuSlot),
    v('dropped', (b) => { const o = b.freshOwn(good(b), true); b.drop(o, true); badPerCpu(b, o); }, hasGood),
    v('map_value', (b) => { const s = pslot(b); badPerCpu(b, mapValue(b, s.name)); }, hasPercpuSlot),
    v('obj_new_object', (b) => badPerCpu(b, b.freshOwn(good(b), false)), hasGood),
    v('after_unlock', (b) => {
      const r = freshRcuSection(b, pslot(b).name);
      b.rcuUnlock();
      badPerCpu(b, r);
    }, (b) => hasPercpuSlot(b) && !b.st.exitLocked),
    v('sleepable_load_without_rcu', (b) => {
      const s = pslot(b);
      leaveRcu(b);
      const r = b.load(s.name);
      b.nullExit(r);
      badPerCpu(b, r);
    }, (b) => hasPercpuSlot(b) && b.st.sleepable && !b.st.exitLocked),
  ],
  'percpu.direct_deref': [
    v('rcu_pointer', (b) => deref(b, freshRcu(b, pslot(b).name)), hasPercpuSlot),
    v('owned', (b) => deref(b, b.freshOwn(good(b), true)), hasGood),
  ],
  'per_cpu_ptr.unchecked_result': [
    v('per_cpu_ptr_unchecked', (b) => {
      const e = b.perCpu(freshRcu(b, pslot(b).name), b.pick(b.ctx.nrCpus));
      deref(b, e);
      b.st.handle(e).state = 'joined';
    }, hasPercpuSlot),
  ],
  'mem.maybe_null_deref': [
    v('new_unchecked', (b) => deref(b, b.newObj(good(b), true)), hasGood),
    v('load_unchecked', (b) => { const s = pslot(b); enterRcu(b); const r = b.load(s.name); deref(b, r); b.st.handle(r).state = 'joined'; }, hasPercpuSlot),
    v('obj_new_unchecked', (b) => deref(b, b.newObj(good(b), false)), hasGood),
  ],
  'mem.untrusted_write': [
    v('element_after_unlock', (b) => {
      const r = freshRcuSection(b, pslot(b).name);
      const e = b.perCpu(r, b.pick(2) === 0 ? 0 : 'this');
      b.nullExit(e);
      b.rcuUnlock();
      b.write(e);
      b.st.handle(e).state = 'joined';
    }, (b) => hasPercpuSlot(b) && !b.st.exitLocked),
    v('kptr_loaded_outside_rcu', (b) => {
      const s = b.pickOf(kptrSlots(b));
      leaveRcu(b);
      const r = b.load(s.name);
      b.nullExit(r);
      b.write(r);
      b.st.handle(r).state = 'joined';
    }, (b) => kptrSlots(b).length > 0 && b.st.sleepable && !b.st.exitLocked),
  ],
  'mem.scalar_deref': [
    v('after_drop', (b) => { const pc = b.pick(2) === 0; const o = b.freshOwn(good(b), pc); b.drop(o, pc); deref(b, o); }, hasGood),
    v('xchg_source_outside_rcu', (b) => {
      const s = pslot(b);
      leaveRcu(b);
      const o = b.freshOwn(s.pointee, true);
      const old = b.xchg(s.name, o);
      if (old !== null) b.release(old);
      deref(b, o);
    }, (b) => hasPercpuSlot(b) && b.st.sleepable && !b.st.exitLocked),
  ],
  'rcu.nested_lock': [
    v('lock_twice', (b) => {
      if (b.st.rcuDepth === 0) b.rcuLock();
      b.rcuLock();
      const slots = percpuSlots(b);
      if (slots.length > 0 && b.pick(2) === 0) {
        const r = b.load(b.pickOf(slots).name);
        b.nullExit(r);
        b.write(b.perCpu(r, 'this'));
      }
      b.rcuUnlock();
    }, (b) => b.st.rcuDepth <= 1 && !b.st.exitLocked),
  ],
  'rcu.unmatched_unlock': [
    v('unlock_unlocked', (b) => {
      leaveRcu(b);
      if (b.pick(2) === 0) { b.rcuLock(); b.rcuUnlock(); }
      b.emit({ op: 'rcu_unlock' });
    }, (b) => !b.st.exitLocked),
  ],
  'rcu.exit_locked': [
    v('no_unlock', (b) => {
      if (b.st.rcuDepth === 0) b.rcuLock();
      b.st.exitLocked = true;
    }, (b) => !b.st.exitLocked),
  ],
  'kfunc.non_gpl': [
    v('proprietary', (b) => { b.license = 'Proprietary'; b.drop(b.freshOwn(good(b), true), true); }, hasGood),
  ],
  // a non-GPL program whose only calls are its slots' lookups: a task storage lookup's bpf_get_current_task_btf is
  // gpl_only (a kfunc anywhere in the program would be refused first, kfunc.non_gpl); scenarioPlan puts the break
  // first and adds the task storage slot
  'helper.gpl_only': [
    v('proprietary_storage', (b) => { b.license = 'Proprietary'; b.halt(); }, (b) => b.onlyLookups() && b.ctx.slots.some((s) => s.home.kind === 'task_storage' && b.st.mapValueOf(s.name) !== null)),
  ],
  ...Object.fromEntries(NEW_STRUCT_RULES.map((rule) => [rule, [
    v('new_then_drop', (b) => b.drop(b.freshOwn(b.ctx.badStructs[rule] as string, true), true), (b) => b.ctx.badStructs[rule] !== undefined),
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
