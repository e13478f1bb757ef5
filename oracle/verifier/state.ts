/**
 * The abstract state the oracle tracks per verification path (research/kernel-semantics.md §1.3).
 * One {@link Handle} per program variable; a reference (`ref_obj_id`) is shared by every copy of a handle.
 */

/**
 * Handle states of §1.3. A trailing `?` means PTR_MAYBE_NULL.
 * - `OWN`/`OWN?`: owning per-CPU object (MEM_ALLOC|MEM_PERCPU, ref N) from bpf_percpu_obj_new or an xchg result
 * - `PLAIN_OWN`/`PLAIN_OWN?`: owning bpf_obj_new object (MEM_ALLOC, ref N)
 * - `RCU`/`RCU?`: non-owning per-CPU pointer (MEM_PERCPU|MEM_RCU, ref 0)
 * - `ELEM`/`ELEM?`: one CPU's element from bpf_per_cpu_ptr/bpf_this_cpu_ptr (MEM_ALLOC|MEM_RCU)
 * - `UNTR_PCPU`, `UNTR_ELEM`: what the outermost bpf_rcu_read_unlock leaves of `RCU*` / `ELEM*`
 * - `UNTR_RAW`/`UNTR_RAW?`: a kptr load outside an RCU critical section (PTR_UNTRUSTED, no MEM_PERCPU)
 * - `DEAD`: released or invalidated (a scalar: the host has allow_ptr_leaks)
 * - `NULL`: known zero; `UNINIT`: never assigned
 * - `MAP_VALUE`/`MAP_VALUE?`: pointer to the map value (or global) holding a slot
 */
export type HandleState =
  | 'OWN?' | 'OWN' | 'PLAIN_OWN?' | 'PLAIN_OWN'
  | 'RCU?' | 'RCU' | 'ELEM?' | 'ELEM'
  | 'UNTR_PCPU' | 'UNTR_ELEM' | 'UNTR_RAW?' | 'UNTR_RAW'
  | 'DEAD' | 'NULL' | 'UNINIT' | 'MAP_VALUE?' | 'MAP_VALUE';

export interface Handle {
  readonly s: HandleState;
  /** BTF struct the pointer is typed with (null for scalars and map values) */
  readonly struct: string | null;
  /** `ref_obj_id`; 0 when the handle owns no reference */
  readonly ref: number;
  /** the slot a MAP_VALUE handle points at */
  readonly slot: string | null;
  /** set on the result of bpf_per_cpu_ptr: the one maybe-NULL pointer with a rule (and a kernel divergence) of its own */
  readonly perCpuResult?: true;
}

export interface PathState {
  /** the program's variable numbering (compileProgram), shared by every state of one walk */
  readonly names: ReadonlyMap<string, number>;
  /** each variable's handle by its number: UNINIT until assigned */
  readonly vars: readonly Handle[];
  /** acquired references still live on this path */
  readonly refs: readonly number[];
  /** bpf_rcu_read_lock nesting depth (`active_rcu_locks`) */
  readonly rcuDepth: number;
  /** the queued body of a `sum` loop, verified after the rest of the program (transfer.ts) */
  readonly inSumBody: boolean;
}

export const UNINIT: Handle = { s: 'UNINIT', struct: null, ref: 0, slot: null };
export const NULL_HANDLE: Handle = { s: 'NULL', struct: null, ref: 0, slot: null };

/** The initial state of every program: no variables assigned, nothing acquired, no lock held. */
export function initialState(names: ReadonlyMap<string, number>): PathState {
  // pushed, not `new Array(n).fill`: a packed array (every state's vars are a copy of it) reads without hole checks
  const vars: Handle[] = [];
  for (let i = 0; i < names.size; i++) vars.push(UNINIT);
  return { names, vars, refs: [], rcuDepth: 0, inSumBody: false };
}

export function handleOf(state: PathState, name: string): Handle {
  const i = state.names.get(name);
  return i === undefined ? UNINIT : state.vars[i] as Handle;
}

export function isMaybeNull(h: Handle): boolean {
  return h.s.endsWith('?');
}

/** States whose value the verifier treats as an unknown scalar (both branches of a NULL test are possible). */
export function isScalar(h: Handle): boolean {
  return h.s === 'DEAD' || h.s === 'UNINIT' || h.s === 'NULL';
}

const PRINTED: Readonly<Record<HandleState, string>> = {
  'OWN?': 'percpu_ptr_or_null_',
  OWN: 'percpu_ptr_',
  'PLAIN_OWN?': 'ptr_or_null_',
  PLAIN_OWN: 'ptr_',
  'RCU?': 'percpu_rcu_ptr_or_null_',
  RCU: 'percpu_rcu_ptr_',
  'ELEM?': 'rcu_ptr_or_null_',
  ELEM: 'rcu_ptr_',
  UNTR_PCPU: 'percpu_untrusted_ptr_',
  UNTR_ELEM: 'untrusted_ptr_',
  'UNTR_RAW?': 'untrusted_ptr_or_null_',
  UNTR_RAW: 'untrusted_ptr_',
  DEAD: 'scalar',
  NULL: 'scalar',
  UNINIT: 'scalar',
  'MAP_VALUE?': 'map_value_or_null',
  MAP_VALUE: 'map_value',
};

/** The register type as the verifier prints it (`reg_type_str`, §1.1: MEM_ALLOC is never printed). */
export function printedType(h: Handle): string {
  return PRINTED[h.s];
}

export function withVar(state: PathState, name: string, h: Handle): PathState {
  const vars = state.vars.slice();
  vars[state.names.get(name) as number] = h;
  return changed(state, vars, state.refs, state.rcuDepth, state.inSumBody);
}

/** A state like `state` but for these fields: every state is built here, so all have one shape. */
function changed(state: PathState, vars: readonly Handle[], refs: readonly number[], rcuDepth: number, inSumBody: boolean): PathState {
  return { names: state.names, vars, refs, rcuDepth, inSumBody };
}

/** An acquired reference, live until released. */
export function acquire(state: PathState, ref: number): PathState {
  return changed(state, state.vars, [...state.refs, ref], state.rcuDepth, state.inSumBody);
}

export function withRcuDepth(state: PathState, depth: number): PathState {
  return changed(state, state.vars, state.refs, depth, state.inSumBody);
}

/** The state a queued `sum` loop body is verified in. */
export function inSumBody(state: PathState): PathState {
  return changed(state, state.vars, state.refs, state.rcuDepth, true);
}

/** `f` applied to every handle; the state itself when no handle changes (states are shared, never written). */
export function mapVars(state: PathState, f: (h: Handle) => Handle): PathState {
  let vars: Handle[] | null = null;
  for (let i = 0; i < state.vars.length; i++) {
    const h = state.vars[i] as Handle;
    const g = f(h);
    if (g !== h) (vars ??= state.vars.slice())[i] = g;
  }
  return vars === null ? state : changed(state, vars, state.refs, state.rcuDepth, state.inSumBody);
}

/** Apply `f` to every handle carrying reference `ref` (all copies of one register share its ref_obj_id). */
export function mapRef(state: PathState, ref: number, f: (h: Handle) => Handle): PathState {
  const vars = varsWithRef(state, ref, f);
  return vars === null ? state : changed(state, vars, state.refs, state.rcuDepth, state.inSumBody);
}

/** The variables with `f` applied to every handle carrying `ref`; null when none does. */
function varsWithRef(state: PathState, ref: number, f: (h: Handle) => Handle): Handle[] | null {
  let vars: Handle[] | null = null;
  for (let i = 0; i < state.vars.length; i++) {
    const h = state.vars[i] as Handle;
    if (h.ref === ref) (vars ??= state.vars.slice())[i] = f(h);
  }
  return vars;
}

/** Release an acquired reference: every copy of it becomes `f(copy)`, and it no longer counts as live at exit. */
export function releaseRef(state: PathState, ref: number, f: (h: Handle) => Handle): PathState {
  return changed(state, varsWithRef(state, ref, f) ?? state.vars, state.refs.filter((r) => r !== ref), state.rcuDepth, state.inSumBody);
}

/**
 * The (insn, state) pairs a walk has explored, for pruning those met again. Two states are the same when every
 * handle has the same state, struct, ref and slot (no struct or slot counts as ''; perCpuResult is not compared),
 * the same references are live in the same order, and the lock depth and loop-body flag agree. A hot path (once per
 * explored instruction): the states met at each instruction are chained apart from the others' and compared field
 * by field, no text is built and nothing is hashed (a generated program meets an instruction in a state or two).
 */
export class Explored {
  /** by instruction: the states met there, chained */
  private readonly byPc: (ExploredState | undefined)[] = [];
  private count = 0;

  /** for a program of `insns` instructions (one slot each, made at once: a packed array) */
  constructor(insns: number) {
    for (let pc = 0; pc < insns; pc++) this.byPc.push(undefined);
  }

  /** records (pc, state); false when an equal pair was recorded already */
  add(pc: number, state: PathState): boolean {
    const first = this.byPc[pc];
    for (let x = first; x !== undefined; x = x.next) if (sameState(x.state, state)) return false;
    this.byPc[pc] = { state, next: first };
    this.count++;
    return true;
  }

  /** how many pairs are recorded */
  get size(): number {
    return this.count;
  }
}

interface ExploredState {
  readonly state: PathState;
  readonly next: ExploredState | undefined;
}

function sameState(a: PathState, b: PathState): boolean {
  if (a.rcuDepth !== b.rcuDepth || a.inSumBody !== b.inSumBody || a.refs.length !== b.refs.length) return false;
  for (let i = 0; i < a.refs.length; i++) if (a.refs[i] !== b.refs[i]) return false;
  for (let i = 0; i < a.vars.length; i++) {
    const x = a.vars[i] as Handle;
    const y = b.vars[i] as Handle;
    if (x !== y && (x.s !== y.s || (x.struct ?? '') !== (y.struct ?? '') || x.ref !== y.ref || (x.slot ?? '') !== (y.slot ?? ''))) return false;
  }
  return true;
}
