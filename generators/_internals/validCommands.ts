import type { Slot } from '../../types/index.ts';
import type { Choices } from './Choices.ts';
import { weightedIndex, weightOf, type SequenceCommand } from './SequenceCommand.ts';
import type { Handle, SequenceState } from './SequenceState.ts';
import { publish, readField, sumField, writeField } from './sequenceOps.ts';

/**
 * The valid commands: each keeps the program well-formed and host-safe (every pointer NULL-checked before use, every
 * reference released or handed to a slot, RCU pointers used under the lock), so any sequence of them is a valid
 * program.
 */

const atTop = (st: SequenceState): boolean => st.blockDepth === 0;
/** assigned at the current `if` depth, and not leaked on purpose: the program may still release or hand it on */
const here = (st: SequenceState, h: Handle): boolean => h.depth === st.blockDepth && !h.leak;

/** Choice 0 does nothing: shrinking a choice towards 0 then deletes a step without reinterpreting the others. */
const nothing: SequenceCommand = { name: 'nothing', weight: 1, check: () => true, run: () => {} };

/** The map value of a slot the program does not hold yet, at top level with nothing to release (the lookup may return). */
const lookup: SequenceCommand<Slot> = {
  name: 'lookup',
  weight: 4,
  check: (st, s) => atTop(st) && st.rcuDepth === 0 && st.mapValueOf(s.name) === null && st.validLookup(s) && !st.hasOwned(),
  run: (st, _, s) => { st.lookup(s.name); },
};

const bpfPercpuObjNew: SequenceCommand = {
  name: 'bpf_percpu_obj_new',
  weight: 2,
  check: (st) => st.ctx.goodStructs.length > 0,
  run: (st, ch) => { st.freshOwn(ch.pickOf(st.ctx.goodStructs), true); },
};

/** A plain object of a struct some `__kptr` slot holds. */
const bpfObjNew: SequenceCommand = {
  name: 'bpf_obj_new',
  weight: 1,
  check: (st) => st.ctx.goodStructs.length > 0 && st.plainSlots.length > 0,
  run: (st, ch) => { st.freshOwn(ch.pickOf(st.plainSlots).pointee, false); },
};

/** `if (!v) { release the rest; return 0; }` on a maybe-NULL reference or pointer. */
const nullCheck: SequenceCommand<Handle> = {
  name: 'null_check',
  weight: 4,
  check: (st, h) => (h.state === 'own?' || h.state === 'rcu?' || h.state === 'elem?') && here(st, h),
  run: (st, _, h) => st.nullExit(h.name),
};

/** Drop a maybe-NULL reference without checking it first (`if (v) drop(v)`). */
const release: SequenceCommand<Handle> = {
  name: 'release',
  weight: 2,
  check: (st, h) => h.state === 'own?' && here(st, h),
  run: (st, _, h) => st.release(h.name),
};

/** `if (v) { 1–3 steps }` on a maybe-NULL pointer, at any depth. */
const ifNonNull: SequenceCommand<Handle> = {
  name: 'if_nonnull',
  weight: 4,
  check: (_, h) => h.state === 'rcu?' || h.state === 'elem?',
  run: (st, ch, h) => st.ifBlock(h.name, () => validSteps(st, ch, 1 + ch.pick(3))),
};

/** bpf_kptr_xchg of an owned object into a slot of its kind and struct, and release of what was there. */
const publishOwned: SequenceCommand<Handle> = {
  name: 'publish',
  weight: 5,
  check: (st, h) => h.state === 'own' && here(st, h) && st.ctx.slots.some((s) => st.isHome(s, h)),
  run: (st, ch, h) => publish(st, h.name, ch.pickOf(st.ctx.slots.filter((s) => st.isHome(s, h))).name),
};

const drop: SequenceCommand<Handle> = {
  name: 'drop',
  weight: 1,
  check: (st, h) => h.state === 'own' && here(st, h),
  run: (st, _, h) => st.drop(h.name, h.percpu),
};

/** A plain object the program owns, or a CPU's element of a per-CPU one (bpf_this_cpu_ptr, or checked). */
const writable = (st: SequenceState, h: Handle): boolean => (h.state === 'own' && here(st, h) && !h.percpu) || h.state === 'elem';

const write: SequenceCommand<Handle> = {
  name: 'write',
  weight: (_, h) => (h.state === 'elem' ? 3 : 2),
  check: writable,
  run: (st, ch, h) => writeField(st, ch, h.name),
};

const read: SequenceCommand<Handle> = {
  name: 'read',
  weight: (_, h) => (h.state === 'elem' ? 2 : 1),
  check: writable,
  run: (st, ch, h) => readField(st, ch, h.name),
};

/** bpf_kptr_xchg of NULL into a slot the program holds, and release of what was there. */
const take: SequenceCommand<Slot> = {
  name: 'take',
  weight: 1,
  check: (st, s) => st.mapValueOf(s.name) !== null,
  run: (st, _, s) => st.release(st.xchg(s.name, null) as string),
};

/** A new object of the slot's kind, NULL-checked and exchanged into it. */
const publishNew: SequenceCommand<Slot> = {
  name: 'publish_new',
  weight: 3,
  check: (st, s) => st.mapValueOf(s.name) !== null && st.ctx.goodStructs.includes(s.pointee),
  run: (st, _, s) => publish(st, st.freshOwn(s.pointee, s.tag === 'percpu_kptr'), s.name),
};

/** The `__percpu_kptr` field read in an RCU critical section: a MEM_RCU pointer, maybe NULL. */
const load: SequenceCommand<Slot> = {
  name: 'load',
  weight: 3,
  check: (st, s) => s.tag === 'percpu_kptr' && st.inRcu() && st.mapValueOf(s.name) !== null,
  run: (st, _, s) => { st.load(s.name); },
};

const bpfPerCpuPtr: SequenceCommand<Handle> = {
  name: 'bpf_per_cpu_ptr',
  weight: 3,
  check: (_, h) => h.state === 'rcu',
  run: (st, ch, h) => { st.perCpu(h.name, ch.pick(st.ctx.nrCpus)); },
};

const bpfThisCpuPtr: SequenceCommand<Handle> = {
  name: 'bpf_this_cpu_ptr',
  weight: 2,
  check: (_, h) => h.state === 'rcu',
  run: (st, _, h) => { st.perCpu(h.name, 'this'); },
};

/** A field summed over every possible CPU (per_cpu_ptr in a loop) into a result global. */
const sum: SequenceCommand<Handle> = {
  name: 'sum',
  weight: 2,
  check: (_, h) => h.state === 'rcu',
  run: (st, ch, h) => sumField(st, ch, h.name),
};

/** At top level and not nested; most likely where it matters (a sleepable program's loads need it). */
const bpfRcuReadLock: SequenceCommand = {
  name: 'bpf_rcu_read_lock',
  weight: (st) => (st.sleepable ? 3 : 1),
  check: (st) => atTop(st) && st.rcuDepth === 0 && !st.exitLocked,
  run: (st) => st.rcuLock(),
};

const bpfRcuReadUnlock: SequenceCommand = {
  name: 'bpf_rcu_read_unlock',
  weight: 1,
  check: (st) => atTop(st) && st.rcuDepth === 1 && !st.exitLocked,
  run: (st) => st.rcuUnlock(),
};

/** Every valid command (the order a choice indexes those that apply in is {@link collect}'s). */
export const VALID_COMMANDS: readonly SequenceCommand<never>[] = [
  nothing, lookup, bpfPercpuObjNew, bpfObjNew, nullCheck, release, ifNonNull, publishOwned, drop, write, read, take, publishNew,
  load, bpfPerCpuPtr, bpfThisCpuPtr, sum, bpfRcuReadLock, bpfRcuReadUnlock,
];

/**
 * The commands that apply now with their subjects and weights (the first `applicable` of each list). A step is taken
 * once per chosen op, so the lists are reused (overwritten in place: truncating would give the arrays' room back and
 * grow it again at every step), and the steps of an `if` body reuse them too: a step takes its command out before
 * running it.
 */
const commands: SequenceCommand<unknown>[] = [];
const subjects: unknown[] = [];
const weights: number[] = [];
let applicable = 0;

/** Adds `c` on `x` to the applicable commands (its check passed). */
function add<X>(st: SequenceState, c: SequenceCommand<X>, x: X): void {
  const i = applicable++;
  commands[i] = c as SequenceCommand<unknown>;
  subjects[i] = x;
  weights[i] = weightOf(c, st, x);
}

/**
 * The commands that apply now, in the order a choice indexes them: the order is part of what a seed means (changing it
 * changes every recorded scenario). Written out rather than walked from a table: each check is then called from a place
 * of its own, which the JIT sees calling one function (through a table, or a shared helper, every check is an indirect
 * call, and building programs took about twice as long); indexed loops, as for-of kept it 10-20% slower still.
 */
function collect(st: SequenceState): void {
  applicable = 0;
  const slots = st.ctx.slots;
  const handles = st.handles;
  const ns = slots.length;
  const nh = handles.length;
  if (nothing.check(st, null)) add(st, nothing, null);
  for (let i = 0; i < ns; i++) {
    const s = slots[i] as Slot;
    if (lookup.check(st, s)) add(st, lookup, s);
  }
  if (bpfPercpuObjNew.check(st, null)) add(st, bpfPercpuObjNew, null);
  if (bpfObjNew.check(st, null)) add(st, bpfObjNew, null);
  for (let i = 0; i < nh; i++) {
    const h = handles[i] as Handle;
    if (h.state !== 'own?') continue;
    if (nullCheck.check(st, h)) add(st, nullCheck, h);
    if (release.check(st, h)) add(st, release, h);
  }
  for (let i = 0; i < nh; i++) {
    const h = handles[i] as Handle;
    if ((h.state === 'rcu?' || h.state === 'elem?') && nullCheck.check(st, h)) add(st, nullCheck, h);
  }
  for (let i = 0; i < nh; i++) {
    const h = handles[i] as Handle;
    if ((h.state === 'rcu?' || h.state === 'elem?') && ifNonNull.check(st, h)) add(st, ifNonNull, h);
  }
  for (let i = 0; i < nh; i++) {
    const h = handles[i] as Handle;
    if (h.state !== 'own') continue;
    if (publishOwned.check(st, h)) add(st, publishOwned, h);
    if (drop.check(st, h)) add(st, drop, h);
    if (write.check(st, h)) add(st, write, h);
    if (read.check(st, h)) add(st, read, h);
  }
  for (let i = 0; i < ns; i++) {
    const s = slots[i] as Slot;
    if (take.check(st, s)) add(st, take, s);
    if (publishNew.check(st, s)) add(st, publishNew, s);
    if (load.check(st, s)) add(st, load, s);
  }
  for (let i = 0; i < nh; i++) {
    const h = handles[i] as Handle;
    if (h.state !== 'rcu') continue;
    if (bpfPerCpuPtr.check(st, h)) add(st, bpfPerCpuPtr, h);
    if (bpfThisCpuPtr.check(st, h)) add(st, bpfThisCpuPtr, h);
    if (sum.check(st, h)) add(st, sum, h);
  }
  for (let i = 0; i < nh; i++) {
    const h = handles[i] as Handle;
    if (h.state !== 'elem') continue;
    if (write.check(st, h)) add(st, write, h);
    if (read.check(st, h)) add(st, read, h);
  }
  if (bpfRcuReadLock.check(st, null)) add(st, bpfRcuReadLock, null);
  if (bpfRcuReadUnlock.check(st, null)) add(st, bpfRcuReadUnlock, null);
}

/** The commands that apply to `st` now with their subjects and weights, in the order a choice indexes them. */
export function applicableCommands(st: SequenceState): { command: SequenceCommand<unknown>; subject: unknown; weight: number }[] {
  collect(st);
  return Array.from({ length: applicable }, (_, i) => ({ command: commands[i] as SequenceCommand<unknown>, subject: subjects[i], weight: weights[i] as number }));
}

/** One valid step: the next choice selects among the commands that apply now (always taking one choice). */
export function validStep(st: SequenceState, ch: Choices): void {
  collect(st);
  const i = weightedIndex(weights, applicable, ch.nextCommand());
  if (i < 0) return;
  const c = commands[i] as SequenceCommand<unknown>;
  c.run(st, ch, subjects[i]);
}

/** Whether the plan has choices left and the program room for another chosen op. */
export function canStep(st: SequenceState, ch: Choices): boolean {
  return !ch.exhausted() && st.opCount < st.ctx.maxOps;
}

/** Up to n valid steps, while choices and room last. */
function validSteps(st: SequenceState, ch: Choices, n: number): void {
  for (let i = 0; i < n && canStep(st, ch); i++) validStep(st, ch);
}
