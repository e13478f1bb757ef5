import type { Choices } from './Choices.ts';
import type { ProgramContext, SequenceState } from './SequenceState.ts';
import { scalarFieldPaths, scalarMax, type FieldPath } from './structLayout.ts';

/**
 * Short op sequences several commands share (valid steps, breaks, targets), each a run of {@link SequenceState}
 * transitions: the field a write picks, the RCU section a break needs, the publish of an owned object.
 */

/** Field paths per struct, shared by the programs of one scenario (one context). */
const FIELDS = new WeakMap<ProgramContext, Map<string, readonly FieldPath[]>>();

function fields(ctx: ProgramContext, struct: string): readonly FieldPath[] {
  let cache = FIELDS.get(ctx);
  if (cache === undefined) FIELDS.set(ctx, (cache = new Map()));
  let f = cache.get(struct);
  if (f === undefined) cache.set(struct, (f = scalarFieldPaths(ctx.structs, struct)));
  return f;
}

/** A scalar field of the struct behind v (falls back to the first good struct for map values). */
function field(st: SequenceState, ch: Choices, v: string): FieldPath {
  const h = st.handle(v);
  const struct = h.struct ?? (h.slot !== null ? st.slot(h.slot).pointee : null) ?? st.ctx.goodStructs[0] ?? 't0';
  return ch.pickOf(fields(st.ctx, struct));
}

/** A write of a chosen field through v: a small value, or one time in four the field's largest. */
export function writeField(st: SequenceState, ch: Choices, v: string): void {
  const f = field(st, ch, v);
  const value = ch.pick(4) === 3 ? scalarMax(f.ctype) : String(ch.pick(100));
  st.write(v, f.path, value);
}

export function readField(st: SequenceState, ch: Choices, v: string): void {
  st.read(v, field(st, ch, v).path);
}

export function sumField(st: SequenceState, ch: Choices, v: string): void {
  st.sum(v, field(st, ch, v).path);
}

/** xchg an owned object into its slot and release whatever was there. */
export function publish(st: SequenceState, v: string, slot: string): void {
  const old = st.xchg(slot, v);
  if (old !== null) st.release(old);
}

/** The map value holding `slot`: the one the program has, or a new lookup. */
export function mapValue(st: SequenceState, slot: string): string {
  return st.mapValueOf(slot) ?? st.lookup(slot);
}

/** Make sure the next op runs inside an RCU critical section. */
export function enterRcu(st: SequenceState): void {
  if (!st.inRcu()) st.rcuLock();
}

/** Close the (balanced) rcu section the valid prefix may have left open. */
export function leaveRcu(st: SequenceState): void {
  while (st.rcuDepth > 0 && !st.exitLocked) st.rcuUnlock();
}

/** load + NULL check in an RCU CS: a non-owning per-CPU pointer (state RCU). */
export function freshRcu(st: SequenceState, slot: string): string {
  enterRcu(st);
  const r = st.load(slot);
  st.nullExit(r);
  return r;
}

/** Like freshRcu, in an RCU section of its own: any open one is closed first, the new one stays open. */
export function freshRcuSection(st: SequenceState, slot: string): string {
  leaveRcu(st);
  st.rcuLock();
  const r = st.load(slot);
  st.nullExit(r);
  return r;
}

/** load + NULL check outside any RCU section (a sleepable program's): an untrusted pointer. */
export function freshUntrusted(st: SequenceState, slot: string): string {
  leaveRcu(st);
  const r = st.load(slot);
  st.nullExit(r);
  return r;
}
