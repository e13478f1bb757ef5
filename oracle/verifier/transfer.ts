import type { FeatureName, Op, Program, Scenario, Slot } from '../../types/index.ts';
import { KptrError } from '../../errors/KptrError.ts';
import type { StructLayout } from '../../cabi/structLayout.ts';
import { fieldOf, layoutOf } from '../layouts.ts';
import { type CompiledProgram, type Insn, lookupMayFail } from './compileProgram.ts';
import {
  DEREF_CHECKS, DROP_CHECKS, exitChecks, firstViolation, NEW_PERCPU_CHECKS, PERCPU_PTR_CHECKS,
  RCU_LOCK_CHECKS, RCU_UNLOCK_CHECKS, type RuleHit, STORAGE_OWNER_CHECKS, STORE_CHECKS, XCHG_CHECKS,
} from './rules.ts';
import {
  acquire, type Handle, handleOf, type HandleState, inSumBody, isMaybeNull, isScalar, mapRef, mapVars, NULL_HANDLE, type PathState, releaseRef, withRcuDepth, withVar,
} from './state.ts';

/** What the transfer functions need to know about the program and the kernel. */
export interface VerifyContext {
  readonly scenario: Scenario;
  readonly program: Program;
  /** the program flattened (compileProgram) */
  readonly compiled: CompiledProgram;
  /** the scenario's struct layouts met so far (layoutOf), shared by its programs' walks */
  readonly layouts: Map<string, StructLayout>;
  readonly features: Readonly<Record<FeatureName, boolean>>;
  /** syscall and fentry.s programs are sleepable: in an RCU critical section only under bpf_rcu_read_lock */
  readonly sleepable: boolean;
  readonly nrCpus: number;
  /** a kfunc of the scenario this kernel lacks: libbpf then refuses the whole object */
  readonly missingKfunc: string | null;
  /** the rule exists on this kernel (it has a message, or a known divergence stands in for it) */
  readonly applies: (ruleId: string) => boolean;
}

/**
 * The effect of one instruction on one path. transfer writes it into the one record a walk keeps (an instruction
 * allocates nothing for it), and the walk reads it before the next instruction.
 */
export interface Transition {
  /** the verifier stops this path here with this error */
  error: RuleHit | null;
  /** successors in exploration order (the verifier follows the non-NULL fall-through first): their pcs and states */
  readonly pcs: number[];
  readonly states: PathState[];
  /** why the op makes the scenario not well-formed even if the kernel accepts it (unchecked pointer use, CPU out of range) */
  malformed: readonly string[];
}

export function newTransition(): Transition {
  return { error: null, pcs: [], states: [], malformed: NONE };
}

/** no malformation: shared, never written */
const NONE: readonly never[] = [];

function stop(out: Transition, error: RuleHit, malformed: readonly string[] = NONE): void {
  out.error = error;
  out.malformed = malformed;
}

/** a successor: the path goes on at `pc` in `state` */
function to(out: Transition, pc: number, state: PathState): void {
  out.pcs.push(pc);
  out.states.push(state);
}

/** the path falls through to the next instruction */
function go(out: Transition, pc: number, state: PathState, malformed: readonly string[] = NONE): void {
  to(out, pc + 1, state);
  out.malformed = malformed;
}

/** A call refusing bpf_per_cpu_ptr's unchecked result: how the kernel words it rests on how it types that result. */
function viaPerCpuResult(error: RuleHit, h: Handle): RuleHit {
  return h.perCpuResult === true && h.s === 'ELEM?' ? { ...error, via: 'per_cpu_ptr.unchecked_result' } : error;
}

/** `in_rcu_cs()`: any rcu lock held, or a non-sleepable program. */
export function inRcuCs(ctx: VerifyContext, state: PathState): boolean {
  return state.rcuDepth > 0 || !ctx.sleepable;
}

function slotOf(ctx: VerifyContext, name: string): Slot {
  const s = ctx.scenario.slots.find((x) => x.name === name);
  if (!s) throw new KptrError('KPTR_SCENARIO_INVALID', `slot ${name} is not defined`, 'Define every slot an op names.');
  return s;
}

/** Whether the kernel parses the slot's field as a kptr at all (6.1 ignores `percpu_kptr` and local-type `kptr` tags). */
function isKptrField(ctx: VerifyContext, slot: Slot): boolean {
  return slot.tag === 'percpu_kptr' ? ctx.features.percpu_kptr : ctx.features.obj_new;
}

/** `what` (and ` of field`, when given) uses a maybe-NULL pointer; the text is built only then (asked at every visit) */
function uncheckedUse(h: Handle, what: string, field?: string): readonly string[] {
  return isMaybeNull(h) ? [`${what}${field === undefined ? '' : ` of ${field}`} uses a pointer that may be NULL`] : NONE;
}

function nonNullOf(h: Handle): Handle {
  return { ...h, s: NON_NULL[h.s] };
}

/** each state without PTR_MAYBE_NULL (a table: no string is cut at every visit) */
const NON_NULL: Readonly<Record<HandleState, HandleState>> = {
  'OWN?': 'OWN', 'PLAIN_OWN?': 'PLAIN_OWN', 'RCU?': 'RCU', 'ELEM?': 'ELEM', 'UNTR_RAW?': 'UNTR_RAW', 'MAP_VALUE?': 'MAP_VALUE',
  OWN: 'OWN', PLAIN_OWN: 'PLAIN_OWN', RCU: 'RCU', ELEM: 'ELEM', UNTR_RAW: 'UNTR_RAW', MAP_VALUE: 'MAP_VALUE',
  UNTR_PCPU: 'UNTR_PCPU', UNTR_ELEM: 'UNTR_ELEM', DEAD: 'DEAD', NULL: 'NULL', UNINIT: 'UNINIT',
};

function branch(insn: Extract<Insn, { k: 'branch' }>, state: PathState, out: Transition): void {
  const h = handleOf(state, insn.var);
  if (isMaybeNull(h)) {
    const nonNull = h.ref === 0 ? withVar(state, insn.var, nonNullOf(h)) : mapRef(state, h.ref, nonNullOf);
    to(out, insn.onNonNull, nonNull);
    to(out, insn.onNull, toNull(state, insn.var, h));
    return;
  }
  if (h.s === 'NULL') return to(out, insn.onNull, state);
  to(out, insn.onNonNull, state);
  if (isScalar(h)) to(out, insn.onNull, toNull(state, insn.var, h));
  // else a pointer the verifier knows is not NULL: the NULL branch is dead code
}

/** The NULL branch of a test of `name` holding `h`. */
function toNull(state: PathState, name: string, h: Handle): PathState {
  // mark_ptr_or_null_regs: every copy becomes NULL, and an acquired reference that turned out NULL is released
  if (h.ref === 0) return withVar(state, name, NULL_HANDLE);
  return releaseRef(state, h.ref, toNullHandle);
}

function toNullHandle(): Handle {
  return NULL_HANDLE;
}

/** a released reference: every copy becomes a scalar */
function released(h: Handle): Handle {
  return { ...h, s: 'DEAD', ref: 0 };
}

/** OBJ_RELEASE of a per-CPU object inside an RCU CS: every copy stays usable as a non-owning RCU pointer */
function toRcu(h: Handle): Handle {
  return { ...h, s: h.s === 'OWN?' ? 'RCU?' : 'RCU', ref: 0 };
}

function exit(ctx: VerifyContext, state: PathState, out: Transition): void {
  out.error = firstViolation(exitChecks(ctx.features.exit_checks_leak_first), { liveRefs: state.refs.length, depth: state.rcuDepth }, ctx.applies);
}

/** At the outermost unlock every MEM_RCU register becomes PTR_UNTRUSTED and loses PTR_MAYBE_NULL. */
function untrustRcu(state: PathState): PathState {
  return mapVars(state, untrusted);
}

function untrusted(h: Handle): Handle {
  if (h.s === 'RCU' || h.s === 'RCU?') return { ...h, s: 'UNTR_PCPU' };
  if (h.s === 'ELEM' || h.s === 'ELEM?') return { ...h, s: 'UNTR_ELEM' };
  return h;
}

function deref(ctx: VerifyContext, state: PathState, ptr: string, field: string, write: boolean): RuleHit | null {
  const h = handleOf(state, ptr);
  const off = h.struct === null ? 0 : fieldOf(ctx.scenario.structs, h.struct, field).off;
  return firstViolation(DEREF_CHECKS, { h, off, write }, ctx.applies);
}

type PlainOp = Extract<Insn, { k: 'op' }>['op'];

function op(ctx: VerifyContext, pc: number, o: PlainOp, state: PathState, out: Transition): void {
  const ref = pc + 1; // one acquire per instruction per path (no loops), so the instruction numbers the reference
  switch (o.op) {
    case 'lookup': {
      const error = firstViolation(STORAGE_OWNER_CHECKS, { slot: slotOf(ctx, o.slot), progType: ctx.program.progType, inRcuCs: inRcuCs(ctx, state), gpl: ctx.program.license !== 'Proprietary' }, ctx.applies);
      if (error) return stop(out, error);
      const s = lookupMayFail(ctx.scenario, o.slot) ? 'MAP_VALUE?' : 'MAP_VALUE';
      return go(out, pc, withVar(state, o.dst, { s, struct: null, ref: 0, slot: o.slot }));
    }
    case 'new': {
      if (o.percpu) {
        const error = firstViolation(NEW_PERCPU_CHECKS, { layout: layoutOf(ctx.layouts, ctx.scenario.structs, o.struct), kfunc: 'bpf_percpu_obj_new_impl' }, ctx.applies);
        if (error) return stop(out, error);
      }
      const h: Handle = { s: o.percpu ? 'OWN?' : 'PLAIN_OWN?', struct: o.struct, ref, slot: null };
      return go(out, pc, acquire(withVar(state, o.dst, h), ref));
    }
    case 'drop': {
      const h = handleOf(state, o.var);
      const kfunc = o.percpu ? 'bpf_percpu_obj_drop_impl' : 'bpf_obj_drop_impl';
      const error = firstViolation(DROP_CHECKS, { h, percpu: o.percpu, kfunc }, ctx.applies);
      if (error) return stop(out, viaPerCpuResult(error, h), uncheckedUse(h, 'drop'));
      if (h.ref === 0) return go(out, pc, state, uncheckedUse(h, 'drop'));
      return go(out, pc, releaseRef(state, h.ref, released), uncheckedUse(h, 'drop'));
    }
    case 'xchg': {
      const slot = slotOf(ctx, o.slot);
      const src = o.src === null ? NULL_HANDLE : handleOf(state, o.src);
      const malformed = uncheckedUse(src, 'bpf_kptr_xchg');
      const error = firstViolation(XCHG_CHECKS, { src, slot, isKptrField: isKptrField(ctx, slot) }, ctx.applies);
      if (error) return stop(out, viaPerCpuResult(error, src), malformed);
      let next = state;
      if (src.ref !== 0) {
        // OBJ_RELEASE of R2: inside an RCU CS a per-CPU object stays usable as a non-owning RCU pointer
        const keepRcu = inRcuCs(ctx, state) && (src.s === 'OWN' || src.s === 'OWN?');
        next = releaseRef(state, src.ref, keepRcu ? toRcu : released);
      }
      const old: Handle = { s: slot.tag === 'percpu_kptr' ? 'OWN?' : 'PLAIN_OWN?', struct: slot.pointee, ref, slot: null };
      next = acquire(next, ref);
      if (o.dst !== null) next = withVar(next, o.dst, old);
      return go(out, pc, next, malformed);
    }
    case 'load': {
      const slot = slotOf(ctx, o.slot);
      let h: Handle;
      if (!isKptrField(ctx, slot)) h = { s: 'DEAD', struct: null, ref: 0, slot: null };
      else if (!inRcuCs(ctx, state)) h = { s: 'UNTR_RAW?', struct: slot.pointee, ref: 0, slot: null };
      else h = { s: slot.tag === 'percpu_kptr' ? 'RCU?' : 'ELEM?', struct: slot.pointee, ref: 0, slot: null };
      return go(out, pc, withVar(state, o.dst, h));
    }
    case 'store': {
      const error = firstViolation(STORE_CHECKS, { isKptrField: isKptrField(ctx, slotOf(ctx, o.slot)) }, ctx.applies);
      return error ? stop(out, error) : go(out, pc, state);
    }
    case 'per_cpu_ptr':
    case 'this_cpu_ptr': {
      const h = handleOf(state, o.src);
      const malformed = o.op === 'per_cpu_ptr' && o.cpu >= ctx.nrCpus
        ? [...uncheckedUse(h, o.op), `bpf_per_cpu_ptr cpu ${o.cpu} >= nr_cpus ${ctx.nrCpus}`]
        : uncheckedUse(h, o.op);
      const error = firstViolation(PERCPU_PTR_CHECKS, { h }, ctx.applies);
      if (error) return stop(out, viaPerCpuResult(error, h), malformed);
      const elem: Handle = o.op === 'per_cpu_ptr'
        ? { s: 'ELEM?', struct: h.struct, ref: 0, slot: null, perCpuResult: true }
        : { s: 'ELEM', struct: h.struct, ref: 0, slot: null };
      return go(out, pc, withVar(state, o.dst, elem), malformed);
    }
    case 'write':
    case 'read': {
      const error = deref(ctx, state, o.ptr, o.field, o.op === 'write');
      const malformed = uncheckedUse(handleOf(state, o.ptr), o.op, o.field);
      return error ? stop(out, error, malformed) : go(out, pc, state, malformed);
    }
    case 'sum': {
      // bpf_for(i, 0, nr_cpus) { e = bpf_per_cpu_ptr(src, i); if (e) global += e->field; }
      // bpf_iter_num_next queues the loop body and goes on with the drained iterator: the rest of the program is
      // verified first, the body (where bpf_per_cpu_ptr checks src) after it, as a branch of its own
      if (!state.inSumBody) {
        to(out, pc + 1, state);
        return to(out, pc, inSumBody(state));
      }
      const h = handleOf(state, o.src);
      const error = firstViolation(PERCPU_PTR_CHECKS, { h }, ctx.applies);
      if (error) return stop(out, viaPerCpuResult(error, h), uncheckedUse(h, 'sum'));
      if (h.struct !== null) fieldOf(ctx.scenario.structs, h.struct, o.field);
      // the body joins the drained path at the loop's exit, which the walk has explored already
      return;
    }
    case 'rcu_lock': {
      const error = firstViolation(RCU_LOCK_CHECKS, { depth: state.rcuDepth, nestingAllowed: ctx.features.nested_rcu_lock }, ctx.applies);
      return error ? stop(out, error) : go(out, pc, withRcuDepth(state, state.rcuDepth + 1));
    }
    case 'rcu_unlock': {
      const error = firstViolation(RCU_UNLOCK_CHECKS, { depth: state.rcuDepth, nestingAllowed: ctx.features.nested_rcu_lock }, ctx.applies);
      if (error) return stop(out, error);
      const depth = Math.max(0, state.rcuDepth - 1);
      const next = withRcuDepth(state, depth);
      // a non-sleepable program stays in an RCU critical section after its last explicit unlock (7.3 keeps trust)
      const stillRcu = !ctx.sleepable && ctx.features.unlock_keeps_implicit_rcu;
      return go(out, pc, depth === 0 && !stillRcu ? untrustRcu(next) : next);
    }
  }
}

/** One transfer function per instruction kind; writes the effect into `out`. */
export function transfer(ctx: VerifyContext, pc: number, insn: Insn, state: PathState, out: Transition): void {
  out.error = null;
  out.malformed = NONE;
  // the walk takes the successors out; left over only if it did not
  if (out.pcs.length !== 0) {
    out.pcs.length = 0;
    out.states.length = 0;
  }
  switch (insn.k) {
    case 'branch':
      return branch(insn, state, out);
    case 'exit':
      return exit(ctx, state, out);
    case 'op':
      return op(ctx, pc, insn.op, state, out);
  }
}
