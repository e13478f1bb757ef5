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
  readonly inSumBody?: true;
}

export const UNINIT: Handle = { s: 'UNINIT', struct: null, ref: 0, slot: null };
export const NULL_HANDLE: Handle = { s: 'NULL', struct: null, ref: 0, slot: null };

/** The initial state of every program: no variables assigned, nothing acquired, no lock held. */
export function initialState(names: ReadonlyMap<string, number>): PathState {
  return { names, vars: new Array<Handle>(names.size).fill(UNINIT), refs: [], rcuDepth: 0 };
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
  return { ...state, vars };
}

/** `f` applied to every handle; the state itself when no handle changes (states are shared, never written). */
export function mapVars(state: PathState, f: (h: Handle) => Handle): PathState {
  let vars: Handle[] | null = null;
  for (let i = 0; i < state.vars.length; i++) {
    const h = state.vars[i] as Handle;
    const g = f(h);
    if (g !== h) (vars ??= state.vars.slice())[i] = g;
  }
  return vars === null ? state : { ...state, vars };
}

/** Apply `f` to every handle carrying reference `ref` (all copies of one register share its ref_obj_id). */
export function mapRef(state: PathState, ref: number, f: (h: Handle) => Handle): PathState {
  return mapVars(state, (h) => (h.ref === ref ? f(h) : h));
}

/** Release an acquired reference: it no longer counts as live at exit. */
export function releaseRef(state: PathState, ref: number): PathState {
  return { ...state, refs: state.refs.filter((r) => r !== ref) };
}

/**
 * Keys of (insn, state) pairs for pruning already-explored ones, for one walk. A key compares what the verifier's
 * states_equal would here: each handle's state, struct, ref and slot (not perCpuResult), the live references in
 * order, the lock depth and whether it is a loop body. Handles are numbered by that content once, so a key is a
 * character per number rather than the handles' text (a hot path: once per explored instruction).
 */
export function stateKeys(): (pc: number, state: PathState) => string {
  const byHandle = new Map<Handle, number>();
  const byContent = new Map<string, number>();
  const code = (h: Handle): number => {
    let c = byHandle.get(h);
    if (c === undefined) {
      const content = `${h.s}:${h.struct ?? ''}:${h.ref}:${h.slot ?? ''}`;
      c = byContent.get(content);
      if (c === undefined) byContent.set(content, (c = byContent.size));
      byHandle.set(h, c);
    }
    return c;
  };
  return (pc, state) => {
    let key = char(pc) + char(state.rcuDepth) + (state.inSumBody ? '1' : '0') + char(state.refs.length);
    for (const r of state.refs) key += char(r);
    for (const h of state.vars) key += char(code(h));
    return key;
  };
}

/** a non-negative number as one UTF-16 unit, or three from 0xffff on (the key stays unambiguous) */
function char(n: number): string {
  return n < 0xffff ? String.fromCharCode(n) : String.fromCharCode(0xffff, n >>> 16, n & 0xffff);
}
